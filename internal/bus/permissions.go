package bus

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
)

// MaxUserJWTLen is the longest user JWT IssueUser signs. A client sends the
// JWT in its CONNECT line, which nats-server caps at its max control line
// (4096 bytes by default) together with the signature of the nonce (86
// bytes), the client's name, language, version and flags. Measured with
// nats.go v1.55 against nats-server v2.15.3: a 3835-byte JWT still connects
// without a client name, 3836 bytes is "maximum control line exceeded"
// (with a 100-byte name: 3735). The rest is left for client names and for
// clients that send more fields than nats.go.
const MaxUserJWTLen = 3500

// Subjects added to a restricted credential's lists, depending on
// UserSpec.JetStream (see IssueUser).
var (
	// jetStreamPubAllow is what JetStream clients publish to besides their
	// own subjects: the API (also domain-qualified), acks and flow control
	// replies of consumers, snapshot/restore chunks and acks, and KV and
	// Object Store writes, which are plain publishes to $KV.<bucket>.<key>
	// and $O.<bucket>.(C|M).<...>.
	jetStreamPubAllow = []string{"$JS.API.>", "$JS.*.API.>", "$JS.ACK.>", "$JS.FC.>", "$JS.SNAPSHOT.>", "$KV.>", "$O.>"}
	// noJetStreamPubDeny keeps a restricted credential without JetStream off
	// everything JetStream: the API (so no stream, consumer, mirror,
	// source, republish, direct or message get can move data around its
	// lists), and acks, including "+NXT" acks, which make a pull consumer
	// send its next message to the ack's reply subject. Acks and flow
	// control replies to messages the credential received still work with
	// AllowResponses: a response permission passes deny lists.
	noJetStreamPubDeny = []string{"$JS.>"}
	// noJetStreamSubDeny: JetStream's advisories; the API audit advisory
	// carries other clients' API requests and responses, including message
	// gets, i.e. stream data.
	noJetStreamSubDeny = []string{"$JS.EVENT.>"}
)

// permissionsFor builds the user JWT permissions of a credential and
// refuses option combinations that cannot work. See IssueUser.
func permissionsFor(u UserSpec) (jwt.Permissions, error) {
	var p jwt.Permissions
	if err := checkUsable(u); err != nil {
		return p, err
	}
	p.Pub.Allow.Add(u.PubAllow...)
	p.Pub.Deny.Add(u.PubDeny...)
	p.Sub.Allow.Add(u.SubAllow...)
	p.Sub.Deny.Add(u.SubDeny...)
	if p.Pub.Empty() && p.Sub.Empty() {
		// Full access to the account, JetStream included; a response
		// permission would mean nothing (and would make nats-server turn
		// the missing pub allow list into an empty one: nothing allowed).
		return p, nil
	}
	if u.JetStream {
		if len(p.Pub.Allow) > 0 {
			p.Pub.Allow.Add(jetStreamPubAllow...)
		}
	} else {
		p.Pub.Deny.Add(noJetStreamPubDeny...)
		p.Sub.Deny.Add(noJetStreamSubDeny...)
	}
	if u.AllowResponses && !p.Pub.Empty() {
		p.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
		if len(p.Pub.Allow) == 0 {
			// nats-server (validateResponsePermissions) replaces a missing
			// pub allow list with an empty one when a response permission
			// is present: without this the credential could publish
			// nothing but replies.
			p.Pub.Allow.Add(">")
		}
	}
	return p, nil
}

// checkUsable refuses a credential whose lists allow nothing: an allow list
// wholly cancelled by its deny list (naming the deny field), or one that
// can neither publish nor subscribe. Denying all of one direction is
// legitimate: pub_deny [">"] alone is a subscribe-only credential,
// sub_deny [">"] alone a publish-only one.
func checkUsable(u UserSpec) error {
	cancelled := func(allow, deny []string) bool {
		if len(allow) == 0 || len(deny) == 0 {
			return false
		}
		for _, a := range allow {
			if coveredBy(deny, a) == "" {
				return false
			}
		}
		return true
	}
	if cancelled(u.PubAllow, u.PubDeny) {
		return &FieldError{Field: "pub_deny", Message: "denies every subject pub_allow allows: the credential could publish nothing"}
	}
	if cancelled(u.SubAllow, u.SubDeny) {
		return &FieldError{Field: "sub_deny", Message: "denies every subject sub_allow allows: the credential could subscribe to nothing"}
	}
	// Responses are no way out: a credential that cannot subscribe never
	// receives a message to reply to.
	if coveredBy(u.PubDeny, ">") != "" && coveredBy(u.SubDeny, ">") != "" {
		return &FieldError{Field: "pub_deny", Message: "with sub_deny also denying everything, the credential could neither publish nor subscribe"}
	}
	if u.JetStream {
		if d := coveredBy(u.PubDeny, "$JS.API.>"); d != "" {
			return &FieldError{Field: "pub_deny", Message: fmt.Sprintf("%q denies the JetStream API that jetstream asks for", d)}
		}
	}
	return nil
}

// longestListField names the permission list that contributes most to a
// JWT's size, for the error when it is too large.
func longestListField(u UserSpec) string {
	field, most := "name", len(u.Name)
	for _, l := range []struct {
		name string
		subs []string
	}{{"pub_allow", u.PubAllow}, {"pub_deny", u.PubDeny}, {"sub_allow", u.SubAllow}, {"sub_deny", u.SubDeny}} {
		n := 0
		for _, s := range l.subs {
			n += len(s) + 3 // quotes and comma in the JSON
		}
		if n > most {
			field, most = l.name, n
		}
	}
	return field
}

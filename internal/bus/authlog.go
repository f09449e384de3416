package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// logAuthFailures logs every refused client authentication as one warning
// with the remote address, the user and account the client presented and
// why it was refused. nats-server's own line says only "authentication
// error" (logger.go turns it into debug); its advisory
// ($SYS.SERVER.<id>.CLIENT.AUTH.ERR) carries the client's JWT, from which
// the account, the user and the reason are read here.
func (s *Server) logAuthFailures(l *slog.Logger) error {
	_, err := s.sys.Subscribe("$SYS.SERVER.*.CLIENT.AUTH.ERR", func(m *nats.Msg) {
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		attrs := []any{"remote", ev.Client.Host, "cid", ev.Client.ID}
		if ev.Client.Name != "" {
			attrs = append(attrs, "client_name", ev.Client.Name)
		}
		if ev.Client.Lang != "" {
			attrs = append(attrs, "client", ev.Client.Lang+"/"+ev.Client.Version)
		}
		f := s.explainAuthFailure(ev.Client.Jwt)
		if f.Account != "" {
			attrs = append(attrs, "account", f.Account)
		}
		if f.Project != "" {
			attrs = append(attrs, "project", f.Project)
		}
		if f.User != "" {
			attrs = append(attrs, "user", f.User)
		} else if ev.Client.User != "" {
			attrs = append(attrs, "user", ev.Client.User)
		}
		if f.UserName != "" {
			attrs = append(attrs, "credential", f.UserName)
		}
		attrs = append(attrs, "reason", f.Reason)
		l.Warn("NATS: client authentication failed", attrs...)
	})
	if err != nil {
		return fmt.Errorf("bus: subscribing to authentication failures: %w", err)
	}
	return s.sys.Flush()
}

// authFailure is what a refused client presented, and why it was refused
// as far as Pocketbus can tell (nats-server does not say).
type authFailure struct {
	Account, Project, User, UserName, Reason string
}

func (s *Server) explainAuthFailure(userJWT string) authFailure {
	if userJWT == "" {
		return authFailure{Reason: "no credential (user JWT) presented"}
	}
	uc, err := jwt.DecodeUserClaims(userJWT)
	if err != nil {
		return authFailure{Reason: "invalid user JWT: " + err.Error()}
	}
	f := authFailure{User: uc.Subject, UserName: uc.Name, Account: uc.Issuer}
	if uc.IssuerAccount != "" {
		f.Account = uc.IssuerAccount
	}
	if uc.Expires != 0 && time.Unix(uc.Expires, 0).Before(time.Now()) {
		f.Reason = "credential expired at " + time.Unix(uc.Expires, 0).UTC().Format(time.RFC3339)
		return f
	}
	if f.Account == s.op.SystemAccountPublicKey() {
		f.Reason = "system account user refused (is it signed by this operator's system account?)"
		return f
	}
	token, err := s.src.AccountJWT(f.Account)
	if errors.Is(err, ErrAccountNotFound) {
		f.Reason = "no project has this account (deleted project, or a credential of another Pocketbus)"
		return f
	}
	if err != nil {
		f.Reason = "account lookup failed: " + err.Error()
		return f
	}
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		f.Reason = "the project's account JWT does not decode: " + err.Error()
		return f
	}
	f.Project = ac.Name
	if ac.IsClaimRevoked(uc) {
		f.Reason = "credential revoked"
		return f
	}
	f.Reason = "refused by nats-server (its debug log says why)"
	return f
}

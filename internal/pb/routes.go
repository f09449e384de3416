package pb

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/tenancy"
	"github.com/pocketbus/pocketbus/web"
)

// registerRoutes adds Pocketbus's routes (SPEC §3), the WebSocket proxy and
// the web app. This is the one place routes are registered.
func registerRoutes(se *core.ServeEvent, h *Hub) {
	r := se.Router
	r.GET("/api/pocketbus/info", h.info)

	api := r.Group("/api/pocketbus")
	api.Bind(apis.RequireAuth())
	api.POST("/projects/{id}/credentials", h.issueCredential)
	api.POST("/credentials/{id}/revoke", h.revokeCredential)
	api.POST("/projects/{id}/token", h.projectToken)
	api.GET("/projects/{id}/stats", h.projectStats)
	api.POST("/groups/{id}/members", h.addMember)
	api.DELETE("/groups/{id}/members/{userId}", h.removeMember)
	api.POST("/groups/{id}/owner", h.transferOwner)

	// Browsers reach NATS over WebSocket on the app's own origin.
	if target, err := url.Parse(h.wsURL); err == nil && h.wsURL != "" {
		// The WebSocket handshake is HTTP; ReverseProxy then relays the
		// upgraded connection. The request goes to the target URL as it is
		// (its own path, if any), not to target + "/nats".
		target.Scheme = map[string]string{"ws": "http", "wss": "https"}[target.Scheme]
		proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.URL.Path, pr.Out.URL.RawPath = target.Scheme, target.Host, target.Path, ""
			pr.Out.Host = target.Host
			pr.SetXForwarded()
		}}
		r.GET("/nats", func(e *core.RequestEvent) error {
			proxy.ServeHTTP(e.Response, e.Request)
			return nil
		})
	}

	// Unknown API paths stay JSON 404s instead of falling through to the app.
	r.GET("/api/{path...}", func(e *core.RequestEvent) error {
		return apis.NewNotFoundError("", nil)
	})
	// The web app, with index.html for its deep links.
	r.GET("/{path...}", apis.Static(web.DistFS, true))
}

func (h *Hub) info(e *core.RequestEvent) error {
	return e.JSON(http.StatusOK, map[string]any{
		"version":  Version,
		"operator": h.Tenancy.Operator.PublicKey(),
		"nats": map[string]string{
			"url":    h.Plane.ClientURL(),
			"ws_url": h.wsURL,
		},
	})
}

func (h *Hub) issueCredential(e *core.RequestEvent) error {
	project, err := tenancy.ProjectForMember(e, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	var req tenancy.IssueRequest
	if err := tenancy.DecodeJSON(e.Request.Body, &req); err != nil {
		return err
	}
	issued, err := h.Tenancy.IssueCredential(e.App, project, tenancy.AuthUser(e), req)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, issued)
}

func (h *Hub) revokeCredential(e *core.RequestEvent) error {
	cred, err := e.App.FindRecordById(tenancy.Credentials, e.Request.PathValue("id"))
	if err != nil {
		return apis.NewNotFoundError("credential not found", nil)
	}
	if _, err := tenancy.ProjectForMember(e, cred.GetString("project")); err != nil {
		return apis.NewNotFoundError("credential not found", nil)
	}
	if err := h.Tenancy.RevokeCredential(e.App, cred); err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"id": cred.Id, "revoked": cred.GetDateTime("revoked")})
}

func (h *Hub) projectToken(e *core.RequestEvent) error {
	project, err := tenancy.ProjectForMember(e, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	token, err := h.Tenancy.IssueWebToken(project, tenancy.AuthUser(e), h.wsURL)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, token)
}

func (h *Hub) projectStats(e *core.RequestEvent) error {
	project, err := tenancy.ProjectForMember(e, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	st, err := h.Plane.AccountStats(project.GetString("account"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{
		"connections": st.Connections,
		"in_msgs":     st.InMsgs,
		"out_msgs":    st.OutMsgs,
		"in_bytes":    st.InBytes,
		"out_bytes":   st.OutBytes,
		"jetstream": map[string]any{
			"memory":    st.JetStream.Memory,
			"storage":   st.JetStream.Storage,
			"streams":   st.JetStream.Streams,
			"consumers": st.JetStream.Consumers,
		},
	})
}

// groupFor loads a group the caller belongs to; others' groups are 404.
func groupFor(e *core.RequestEvent) (*core.Record, error) {
	group, err := e.App.FindRecordById(tenancy.Groups, e.Request.PathValue("id"))
	if err != nil || !(e.HasSuperuserAuth() || tenancy.IsMember(tenancy.AuthUser(e), group.Id)) {
		return nil, apis.NewNotFoundError("group not found", nil)
	}
	return group, nil
}

func isOwner(e *core.RequestEvent, group *core.Record) bool {
	if e.HasSuperuserAuth() {
		return true
	}
	u := tenancy.AuthUser(e)
	return u != nil && group.GetString("owner") == u.Id
}

func (h *Hub) addMember(e *core.RequestEvent) error {
	group, err := groupFor(e)
	if err != nil {
		return err
	}
	if !isOwner(e, group) {
		return apis.NewForbiddenError("only the group owner adds members", nil)
	}
	var body struct {
		Email string `json:"email"`
	}
	if err := tenancy.DecodeJSON(e.Request.Body, &body); err != nil {
		return err
	}
	user, err := tenancy.AddMember(e.App, group, body.Email)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"group": group.Id, "user": user.Id})
}

func (h *Hub) removeMember(e *core.RequestEvent) error {
	group, err := groupFor(e)
	if err != nil {
		return err
	}
	userID := e.Request.PathValue("userId")
	if u := tenancy.AuthUser(e); !isOwner(e, group) && (u == nil || u.Id != userID) {
		return apis.NewForbiddenError("only the group owner removes other members", nil)
	}
	if err := tenancy.RemoveMember(e.App, group, userID); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

func (h *Hub) transferOwner(e *core.RequestEvent) error {
	group, err := groupFor(e)
	if err != nil {
		return err
	}
	if !isOwner(e, group) {
		return apis.NewForbiddenError("only the group owner transfers ownership", nil)
	}
	var body struct {
		User string `json:"user"`
	}
	if err := tenancy.DecodeJSON(e.Request.Body, &body); err != nil {
		return err
	}
	if err := tenancy.TransferOwner(e.App, group, body.User); err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"group": group.Id, "owner": body.User})
}

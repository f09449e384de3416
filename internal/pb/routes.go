package pb

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
	"github.com/pocketbus/pocketbus/internal/tenancy"
	"github.com/pocketbus/pocketbus/web"
)

// registerRoutes adds Pocketbus's routes (SPEC §3), the WebSocket proxy and
// the web app. This is the one place routes are registered.
func registerRoutes(se *core.ServeEvent, h *Hub) {
	r := se.Router
	// Users are sorted and filtered by what co-members see (SPEC §7 Privacy).
	r.BindFunc(tenancy.CheckUsersQuery)
	// Refused writes of hidden fields get a 400 instead of being dropped:
	// the body of a records-API create or update is kept as sent, for the
	// record request hooks (other routes, e.g. auth, do not read it).
	r.BindFunc(func(e *core.RequestEvent) error {
		switch e.Request.Pattern {
		case "POST /api/collections/{collection}/records", "PATCH /api/collections/{collection}/records/{id}":
			return tenancy.KeepRequestBody(e)
		}
		return e.Next()
	})
	r.GET("/api/pocketbus/info", h.info)

	api := r.Group("/api/pocketbus")
	api.Bind(apis.RequireAuth())
	api.POST("/projects/{id}/credentials", h.issueCredential)
	api.POST("/credentials/{id}/revoke", h.revokeCredential)
	api.POST("/projects/{id}/token", h.projectToken)
	api.GET("/projects/{id}/stats", h.projectStats)
	api.GET("/groups/{id}/stats", h.groupStats)
	api.POST("/groups/{id}/invites", h.createInvite)
	api.GET("/invites/{token}", h.viewInvite)
	api.POST("/invites/{token}/accept", h.acceptInvite)
	api.DELETE("/invites/{id}", h.deleteInvite)
	api.DELETE("/groups/{id}/members/{userId}", h.removeMember)
	api.POST("/groups/{id}/owner", h.transferOwner)
	api.POST("/groups/{id}/members", addMemberRetired)
	api.POST("/projects/{id}/rotate", h.rotate)
	api.POST("/projects/{id}/exports", h.createExport)
	api.DELETE("/exports/{id}", h.deleteExport)

	// Browsers reach NATS over WebSocket on the app's own origin.
	if dp := h.running.Load(); dp != nil && dp.wsURL != "" {
		r.GET("/nats", h.natsProxy)
	}
	// Monitoring paths and /api/health's NATS check: ops.go.

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
			"url":    h.natsClientURL(e),
			"ws_url": h.natsWebSocketURL(e),
		},
		// Whether PocketBase has SMTP set up: without it, password resets and
		// verification emails go nowhere, and the web app says so.
		"mailer": map[string]bool{"configured": e.App.Settings().SMTP.Enabled},
	})
}

// Routes that take an id in the path answer 404 for another tenant's id
// before they look at the body (the transaction re-checks before writing).

func (h *Hub) issueCredential(e *core.RequestEvent) error {
	project, err := tenancy.ProjectForMember(e, e.App, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	var req tenancy.IssueRequest
	if err := tenancy.DecodeJSON(e.Request.Body, &req); err != nil {
		return err
	}
	issued, err := h.Tenancy.IssueCredential(e.App, tenancy.ActorOf(e), project, req)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, issued)
}

func (h *Hub) revokeCredential(e *core.RequestEvent) error {
	cred, err := h.Tenancy.RevokeCredential(e.App, tenancy.ActorOf(e), e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"id": cred.Id, "revoked": cred.GetDateTime("revoked")})
}

func (h *Hub) projectToken(e *core.RequestEvent) error {
	token, err := h.Tenancy.IssueWebToken(e.App, tenancy.ActorOf(e), e.Request.PathValue("id"), h.natsWebSocketURL(e))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, token)
}

func (h *Hub) projectStats(e *core.RequestEvent) error {
	project, err := tenancy.ProjectForMember(e, e.App, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	st, err := h.Plane().AccountStats(project.GetString("account"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, statsJSON(st))
}

// groupStats answers every project of a group in one request (the group
// page shows them all; one request per project was ~200 a minute at 50).
func (h *Hub) groupStats(e *core.RequestEvent) error {
	groupID := e.Request.PathValue("id")
	if err := tenancy.GroupForMember(e, e.App, groupID); err != nil {
		return err
	}
	projects, err := e.App.FindAllRecords(tenancy.Projects, dbx.HashExp{"group": groupID})
	if err != nil {
		return err
	}
	out := make(map[string]any, len(projects))
	plane := h.Plane()
	for _, p := range projects {
		st, err := plane.AccountStats(p.GetString("account"))
		if err != nil {
			return err
		}
		out[p.Id] = statsJSON(st)
	}
	return e.JSON(http.StatusOK, map[string]any{"projects": out})
}

func statsJSON(st bus.Stats) map[string]any {
	return map[string]any{
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
	}
}

func (h *Hub) createInvite(e *core.RequestEvent) error {
	if err := tenancy.GroupForMember(e, e.App, e.Request.PathValue("id")); err != nil {
		return err
	}
	var req tenancy.InviteRequest
	if err := tenancy.DecodeJSON(e.Request.Body, &req); err != nil {
		return err
	}
	inv, err := h.Tenancy.CreateInvite(e.App, tenancy.ActorOf(e), e.Request.PathValue("id"), req, requestOrigin(e))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, inv)
}

func (h *Hub) viewInvite(e *core.RequestEvent) error {
	info, err := h.Tenancy.ViewInvite(e.App, e.Request.PathValue("token"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, info)
}

func (h *Hub) acceptInvite(e *core.RequestEvent) error {
	group, err := h.Tenancy.AcceptInvite(e.App, tenancy.ActorOf(e), e.Request.PathValue("token"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"group": group})
}

func (h *Hub) deleteInvite(e *core.RequestEvent) error {
	if err := h.Tenancy.DeleteInvite(e.App, tenancy.ActorOf(e), e.Request.PathValue("id")); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

func (h *Hub) removeMember(e *core.RequestEvent) error {
	req := tenancy.RemoveRequest{GroupID: e.Request.PathValue("id"), UserID: e.Request.PathValue("userId")}
	if v := e.Request.URL.Query().Get("keep_credentials"); v != "" {
		keep, err := strconv.ParseBool(v)
		if err != nil {
			return apis.NewBadRequestError("keep_credentials must be true or false", map[string]any{
				"keep_credentials": map[string]string{"code": "validation_invalid_bool", "message": "keep_credentials must be true or false"}})
		}
		req.KeepCredentials = keep
	}
	if err := h.Tenancy.RemoveMember(e.App, tenancy.ActorOf(e), req); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

func (h *Hub) transferOwner(e *core.RequestEvent) error {
	if err := tenancy.GroupForMember(e, e.App, e.Request.PathValue("id")); err != nil {
		return err
	}
	var body struct {
		User string `json:"user"`
	}
	if err := tenancy.DecodeJSON(e.Request.Body, &body); err != nil {
		return err
	}
	groupID := e.Request.PathValue("id")
	if err := h.Tenancy.TransferOwner(e.App, tenancy.ActorOf(e), groupID, body.User); err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"group": groupID, "owner": body.User})
}

func (h *Hub) rotate(e *core.RequestEvent) error {
	at, err := h.Tenancy.Rotate(e.App, tenancy.ActorOf(e), e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]any{"revoked_before": at})
}

func (h *Hub) createExport(e *core.RequestEvent) error {
	if _, err := tenancy.ProjectForMember(e, e.App, e.Request.PathValue("id")); err != nil {
		return err
	}
	var req tenancy.ExportRequest
	if err := tenancy.DecodeJSON(e.Request.Body, &req); err != nil {
		return err
	}
	export, err := h.Tenancy.CreateExport(e.App, tenancy.ActorOf(e), e.Request.PathValue("id"), req)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, export)
}

func (h *Hub) deleteExport(e *core.RequestEvent) error {
	if err := h.Tenancy.DeleteExport(e.App, tenancy.ActorOf(e), e.Request.PathValue("id")); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}

// addMemberRetired answers the retired add-by-email route: it told anyone
// whether an email is registered and added people without their consent.
func addMemberRetired(e *core.RequestEvent) error {
	if err := tenancy.GroupForMember(e, e.App, e.Request.PathValue("id")); err != nil {
		return err
	}
	return apis.NewApiError(http.StatusGone,
		"adding members by email is retired; create an invite link with POST /api/pocketbus/groups/{id}/invites", nil)
}

// requestOrigin is where the caller reached the app: the browser's Origin
// when it sent one (the web app's own address, where /join/{token} lives),
// else appOrigin's scheme and host (a trusted proxy's forwarded ones, as
// ws_url), so that an invite link is https:// where ws_url is wss://.
func requestOrigin(e *core.RequestEvent) string {
	if o := e.Request.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	scheme, host := appOrigin(e)
	return scheme + "://" + host
}

package pb

import (
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// metrics is what --metrics-listen serves at /metrics (Prometheus text):
//
//   - pocketbus_*: the control plane. Counts read from the database at
//     scrape time (projects, disabled projects, groups, users, credentials
//     on record and revoked ones), whether NATS is ready, and the HTTP
//     requests of this process by route pattern (PocketBase's router
//     patterns, e.g. "POST /api/pocketbus/projects/{id}/credentials", so
//     ids never make series) and status, with their durations by route.
//   - nats_*: the embedded nats-server (Varz): connections, messages and
//     bytes in and out, slow consumers, subscriptions, JetStream used,
//     reserved and maximum memory and storage. Per project (labels
//     project and account): nats_account_* for loaded accounts only.
//     nats-server loads an account when a client of it first connects (or
//     at start, when it has JetStream data) and keeps it loaded, so the
//     number of these series follows the projects in use since the
//     start, not the projects on record: 100k projects of which 500 are
//     used give 500 × 10 series.
//   - go_* and process_*: the Go runtime and the process.
//
// With --nats-url (an external cluster) there is no nats_*: the cluster's
// servers have their own monitoring.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(app core.App, h *Hub) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pocketbus_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pocketbus_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (WebSocket and realtime connections excluded).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration,
		&pocketbusCollector{app: app, hub: h},
		&natsCollector{hub: h},
	)
	return m
}

// handler serves the registry's metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// observe is router middleware counting every request by route pattern
// (bound only with --metrics-listen, see ops.onServe). Every request has
// one: PocketBase's router adds a catch-all "/" route.
func (m *metrics) observe(e *core.RequestEvent) error {
	start := time.Now()
	err := e.Next()
	route := e.Request.Pattern
	status := e.Status()
	if err != nil && status == 0 {
		// Not written yet: the router's error handler answers with this.
		status = router.ToApiError(err).Status
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	// Long-lived connections (the /nats WebSocket, realtime SSE) would only
	// stretch the histogram.
	if route != "GET /nats" && route != "GET /api/realtime" {
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
	return err
}

type pocketbusCollector struct {
	app core.App
	hub *Hub
}

var (
	descInfo        = prometheus.NewDesc("pocketbus_info", "Pocketbus version (value 1).", []string{"version"}, nil)
	descNATSReady   = prometheus.NewDesc("pocketbus_nats_ready", "1 when NATS is ready for clients (what /api/health says), else 0.", nil, nil)
	descProjects    = prometheus.NewDesc("pocketbus_projects", "Projects (one NATS account each).", nil, nil)
	descDisabled    = prometheus.NewDesc("pocketbus_projects_disabled", "Disabled projects.", nil, nil)
	descGroups      = prometheus.NewDesc("pocketbus_groups", "Groups.", nil, nil)
	descUsers       = prometheus.NewDesc("pocketbus_users", "Users.", nil, nil)
	descCredsIssued = prometheus.NewDesc("pocketbus_credentials_issued", "Credentials on record (issued and not deleted), revoked ones included.", nil, nil)
	descCredsRevkd  = prometheus.NewDesc("pocketbus_credentials_revoked", "Credentials on record that are revoked.", nil, nil)
)

func (c *pocketbusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descNATSReady, descProjects, descDisabled, descGroups, descUsers, descCredsIssued, descCredsRevkd} {
		ch <- d
	}
}

func (c *pocketbusCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, Version)
	ready := 0.0
	if c.hub.natsReady() == nil {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descNATSReady, prometheus.GaugeValue, ready)
	for _, q := range []struct {
		desc *prometheus.Desc
		sql  string
	}{
		{descProjects, "SELECT COUNT(*) FROM " + tenancy.Projects},
		{descDisabled, "SELECT COUNT(*) FROM " + tenancy.Projects + " WHERE disabled = TRUE"},
		{descGroups, "SELECT COUNT(*) FROM " + tenancy.Groups},
		{descUsers, "SELECT COUNT(*) FROM " + tenancy.Users},
		{descCredsIssued, "SELECT COUNT(*) FROM " + tenancy.Credentials},
		{descCredsRevkd, "SELECT COUNT(*) FROM " + tenancy.Credentials + " WHERE COALESCE(revoked, '') != ''"},
	} {
		var n int64
		if err := c.app.DB().NewQuery(q.sql).Row(&n); err != nil {
			ch <- prometheus.NewInvalidMetric(q.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n))
	}
}

type natsCollector struct{ hub *Hub }

func nd(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descConns        = nd("nats_connections", "Client connections now.")
	descConnsTotal   = nd("nats_connections_total", "Client connections since the start.")
	descSubs         = nd("nats_subscriptions", "Subscriptions now.")
	descInMsgs       = nd("nats_in_msgs_total", "Messages received by the server.")
	descOutMsgs      = nd("nats_out_msgs_total", "Messages sent by the server.")
	descInBytes      = nd("nats_in_bytes_total", "Bytes received by the server.")
	descOutBytes     = nd("nats_out_bytes_total", "Bytes sent by the server.")
	descSlow         = nd("nats_slow_consumers_total", "Clients disconnected as slow consumers since the start.")
	descAccounts     = nd("nats_accounts_loaded", "Project accounts loaded by the server.")
	descJSMemUsed    = nd("nats_jetstream_memory_used_bytes", "JetStream memory storage in use.")
	descJSStoreUsed  = nd("nats_jetstream_storage_used_bytes", "JetStream file storage in use.")
	descJSMemRes     = nd("nats_jetstream_memory_reserved_bytes", "JetStream memory reserved by loaded accounts' limits.")
	descJSStoreRes   = nd("nats_jetstream_storage_reserved_bytes", "JetStream file storage reserved by loaded accounts' limits.")
	descJSMemMax     = nd("nats_jetstream_memory_max_bytes", "JetStream memory total of the server.")
	descJSStoreMax   = nd("nats_jetstream_storage_max_bytes", "JetStream file storage total of the server.")
	descJSAPI        = nd("nats_jetstream_api_requests_total", "JetStream API requests.")
	descJSAPIErr     = nd("nats_jetstream_api_errors_total", "JetStream API requests answered with an error.")
	accLabels        = []string{"project", "account"}
	descAccConns     = nd("nats_account_connections", "Client connections of a loaded project account.", accLabels...)
	descAccSubs      = nd("nats_account_subscriptions", "Subscriptions of a loaded project account.", accLabels...)
	descAccInMsgs    = nd("nats_account_in_msgs_total", "Messages clients of the account sent.", accLabels...)
	descAccOutMsgs   = nd("nats_account_out_msgs_total", "Messages the account's clients received.", accLabels...)
	descAccInBytes   = nd("nats_account_in_bytes_total", "Bytes clients of the account sent.", accLabels...)
	descAccOutBytes  = nd("nats_account_out_bytes_total", "Bytes the account's clients received.", accLabels...)
	descAccSlow      = nd("nats_account_slow_consumers_total", "Slow consumers of the account.", accLabels...)
	descAccJSMem     = nd("nats_account_jetstream_memory_used_bytes", "JetStream memory the account uses.", accLabels...)
	descAccJSStore   = nd("nats_account_jetstream_storage_used_bytes", "JetStream file storage the account uses.", accLabels...)
	descAccJSStreams = nd("nats_account_jetstream_streams", "Streams of the account (KV buckets and object stores included).", accLabels...)
)

func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descConnsTotal, descSubs, descInMsgs, descOutMsgs, descInBytes, descOutBytes,
		descSlow, descAccounts, descJSMemUsed, descJSStoreUsed, descJSMemRes, descJSStoreRes, descJSMemMax, descJSStoreMax,
		descJSAPI, descJSAPIErr, descAccConns, descAccSubs, descAccInMsgs, descAccOutMsgs, descAccInBytes, descAccOutBytes,
		descAccSlow, descAccJSMem, descAccJSStore, descAccJSStreams} {
		ch <- d
	}
}

func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	srv := c.hub.embedded()
	if srv == nil || srv.Ready() != nil {
		return
	}
	ns := srv.NATS()
	v, err := ns.Varz(nil)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descConns, err)
		return
	}
	g := func(d *prometheus.Desc, val float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, val, labels...)
	}
	cnt := func(d *prometheus.Desc, val float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, val, labels...)
	}
	g(descConns, float64(v.Connections))
	cnt(descConnsTotal, float64(v.TotalConnections))
	g(descSubs, float64(v.Subscriptions))
	cnt(descInMsgs, float64(v.InMsgs))
	cnt(descOutMsgs, float64(v.OutMsgs))
	cnt(descInBytes, float64(v.InBytes))
	cnt(descOutBytes, float64(v.OutBytes))
	cnt(descSlow, float64(v.SlowConsumers))
	if js := v.JetStream; js.Stats != nil {
		g(descJSMemUsed, float64(js.Stats.Memory))
		g(descJSStoreUsed, float64(js.Stats.Store))
		g(descJSMemRes, float64(js.Stats.ReservedMemory))
		g(descJSStoreRes, float64(js.Stats.ReservedStore))
		cnt(descJSAPI, float64(js.Stats.API.Total))
		cnt(descJSAPIErr, float64(js.Stats.API.Errors))
	}
	if js := v.JetStream; js.Config != nil {
		g(descJSMemMax, float64(js.Config.MaxMemory))
		g(descJSStoreMax, float64(js.Config.MaxStore))
	}

	az, err := srv.AccountStatz()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descAccConns, err)
		return
	}
	loaded := 0
	for _, a := range az {
		if !nkeys.IsValidPublicAccountKey(a.Account) || a.Account == v.SystemAccount {
			continue
		}
		loaded++
		l := []string{a.Name, a.Account}
		g(descAccConns, float64(a.Conns), l...)
		g(descAccSubs, float64(a.NumSubs), l...)
		// Received is what clients sent into the server.
		cnt(descAccInMsgs, float64(a.Received.Msgs), l...)
		cnt(descAccInBytes, float64(a.Received.Bytes), l...)
		cnt(descAccOutMsgs, float64(a.Sent.Msgs), l...)
		cnt(descAccOutBytes, float64(a.Sent.Bytes), l...)
		cnt(descAccSlow, float64(a.SlowConsumers), l...)
		if acc, err := ns.LookupAccount(a.Account); err == nil && acc.JetStreamEnabled() {
			u := acc.JetStreamUsage()
			g(descAccJSMem, float64(u.Memory), l...)
			g(descAccJSStore, float64(u.Store), l...)
			g(descAccJSStreams, float64(u.Streams), l...)
		}
	}
	g(descAccounts, float64(loaded))
}

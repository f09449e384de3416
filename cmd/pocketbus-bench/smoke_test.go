package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSmoke runs the whole harness at tiny sizes against real processes and
// checks that every figure was produced and is sane. It asserts no timing:
// this machine is shared and the numbers of a smoke run mean nothing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs pocketbus and nats-server")
	}
	b := &bench{cfg: smokeConfig(), logf: t.Logf, command: "go test ./cmd/pocketbus-bench -run TestSmoke"}
	res, err := b.run()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"msg_128_embedded", "msg_128_standalone", "msg_128_ratio",
		"msg_16k_embedded", "msg_16k_standalone", "msg_16k_ratio",
		"js_embedded", "js_standalone", "js_ratio",
		"provision_flatness", "provision_flatness_top", "provision_flatness_ref", "issue", "connect", "connect_standalone", "connect_ratio", "revoke", "restart",
		"rss_idle", "account_load_connect", "rss_loaded", "rss_loaded_streams", "restart_used", "rss_restart_used",
	}
	for _, cp := range b.cfg.LoadCheckpoints {
		want = append(want, "account_load_"+strconv.Itoa(cp))
	}
	for _, l := range b.cfg.Levels {
		want = append(want, "provision_"+strconv.Itoa(l), "provision_fresh_"+strconv.Itoa(l))
	}
	for _, k := range want {
		f := res.get(k)
		if f == nil {
			t.Errorf("figure %s missing", k)
			continue
		}
		if err := f.sane(); err != nil {
			t.Error(err)
		}
	}
	for _, k := range []string{"provision_0", "issue", "connect", "revoke", "account_load_connect", "account_load_10"} {
		if f := res.get(k); f != nil && !f.latency() {
			t.Errorf("%s has no p50/p99", k)
		}
	}
	md := res.markdown()
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Machine", "cores", "nats-server v2.", "## Figures", "## Targets"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	t.Logf("\n%s", res.summary())
}

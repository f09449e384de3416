package pb_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
)

// `pocketbus nats operator` prints what an external nats-server needs, for
// the same operator the running server uses.
func TestNATSOperatorCommand(t *testing.T) {
	inst := startInstance(t, "")
	out, err := exec.Command(binPath, "nats", "operator", "--dir", inst.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("nats operator: %v: %s", err, out)
	}
	text := string(out)
	info := anonymous(t, inst).must(200, "GET", "/api/pocketbus/info", nil)
	for _, want := range []string{"operator: ey", "system_account: A", "type: full", "resolver_preload", info["operator"].(string)} {
		if !strings.Contains(text, want) {
			t.Fatalf("output lacks %q:\n%s", want, text)
		}
	}
	var opJWT string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "operator: ") {
			opJWT = strings.TrimPrefix(line, "operator: ")
		}
	}
	claims, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil || claims.Subject != info["operator"] || claims.SystemAccount == "" {
		t.Fatalf("operator JWT: %+v %v", claims, err)
	}
}

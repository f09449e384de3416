package pb

import (
	"strings"
	"testing"
)

// Sizes are go-humanize's: powers of 1000 (M, G, GB) and of 1024 (MiB, Gi),
// fractions, plain bytes; nonsense and overflow are errors naming the flag.
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"":           0,
		"1073741824": 1 << 30,
		"512M":       512e6,
		"1.5G":       1.5e9,
		"512MiB":     512 << 20,
		"2Gi":        2 << 30,
		"10GB":       10e9,
		"1T":         1e12,
		" 64 MiB ":   64 << 20,
	} {
		got, err := parseSize("--nats-max-memory", in)
		if err != nil || got != want {
			t.Fatalf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "12X", "-1G", "99999999999T", "1e30", "9223372036854775808"} {
		if n, err := parseSize("--nats-max-disk", in); err == nil || !strings.Contains(err.Error(), "--nats-max-disk") {
			t.Fatalf("parseSize(%q) = %d, %v; want an error naming the flag", in, n, err)
		}
	}
}

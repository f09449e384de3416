package bus

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// slogLogger routes nats-server's printf-style logging into slog, one
// record per event:
//
//   - Messages are prefixed "NATS: " instead of carrying a component
//     attribute, so PocketBase's --dev console does not print an attribute
//     line under every one of them.
//   - Banners (the start-up block, "Trusted Operators", the JetStream
//     block) arrive as a header line and indented "  Key: value" lines;
//     they are folded into one record with the values as attributes.
//   - Errors about one client connection ("ip:port - cid:N - ...") are
//     warnings: the client did something wrong, the server is fine. The
//     authentication error line is debug: logAuthFailures logs each
//     failure with its account, user and reason instead.
//   - Fatalf does not exit (nats-server's own logger does); the first
//     fatal message is handed to onFatal so that Start can fail at once
//     with the real cause instead of waiting for readiness.
type slogLogger struct {
	l *slog.Logger

	mu      sync.Mutex
	pending *foldedRecord
	onFatal func(msg string)
}

type foldedRecord struct {
	level slog.Level
	msg   string
	attrs []any
}

func newSlogLogger(l *slog.Logger, onFatal func(string)) *slogLogger {
	return &slogLogger{l: l, onFatal: onFatal}
}

func (s *slogLogger) Noticef(format string, v ...any) { s.log(slog.LevelInfo, format, v) }
func (s *slogLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s *slogLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *slogLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s *slogLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.log(slog.LevelError, "%s", []any{msg})
	if s.onFatal != nil {
		s.onFatal(msg)
	}
}

// bannerHeaders are the lines that open a block of "  Key: value" lines,
// with the message their folded record gets.
var bannerHeaders = map[string]string{
	"Starting nats-server":                        "NATS: starting nats-server",
	"Trusted Operators":                           "NATS: trusted operator",
	"---------------- JETSTREAM ----------------": "NATS: JetStream",
	"  Feature flags:":                            "NATS: feature flags",
}

var (
	// "  Max Memory:      1.00 GB", "  System  : \"...\"", "    Configured:  x"
	bannerLine = regexp.MustCompile(`^ {2,}([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$`)
	// "127.0.0.1:53412 - cid:7 - ..." (client, route, leaf... connections)
	connLine = regexp.MustCompile(`^\S+ - [a-z]+:\d+ - `)
	// lines that carry nothing: the dashes that close the JetStream block
	// and the empty lines of the ASCII logo (off: DisableJetStreamBanner)
	emptyLine = regexp.MustCompile(`^[-\s]*$`)
)

func (s *slogLogger) log(level slog.Level, format string, v []any) {
	// Disabled debug and trace lines cost no formatting (no banner is
	// logged below info).
	if level < slog.LevelInfo && !s.l.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if title, ok := bannerHeaders[msg]; ok {
		s.flushLocked()
		s.pending = &foldedRecord{level: level, msg: title}
		return
	}
	if s.pending != nil {
		if m := bannerLine.FindStringSubmatch(msg); m != nil {
			key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", "_"))
			s.pending.attrs = append(s.pending.attrs, key, strings.Trim(m[2], `"`))
			return
		}
	}
	if emptyLine.MatchString(msg) {
		s.flushLocked()
		return
	}
	s.flushLocked()
	if level == slog.LevelError && connLine.MatchString(msg) {
		level = slog.LevelWarn
		if strings.HasSuffix(msg, "authentication error") || strings.Contains(msg, " - authentication error - ") {
			level = slog.LevelDebug
		}
	}
	s.emit(level, "NATS: "+msg)
}

// flush writes a pending folded record (Start calls it once the server is
// up, so a banner is never held back).
func (s *slogLogger) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *slogLogger) flushLocked() {
	if p := s.pending; p != nil {
		s.pending = nil
		s.emit(p.level, p.msg, p.attrs...)
	}
}

func (s *slogLogger) emit(level slog.Level, msg string, attrs ...any) {
	// Check first so disabled debug/trace lines cost nothing more.
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, msg, attrs...)
}

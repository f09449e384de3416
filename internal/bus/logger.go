package bus

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// slogLogger routes nats-server's printf-style logging into slog.
type slogLogger struct{ l *slog.Logger }

// NewSlogLogger adapts l to nats-server's Logger interface.
func NewSlogLogger(l *slog.Logger) server.Logger { return slogLogger{l: l} }

func (s slogLogger) Noticef(format string, v ...any) { s.log(slog.LevelInfo, format, v) }
func (s slogLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s slogLogger) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s slogLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s slogLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s slogLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }

func (s slogLogger) log(level slog.Level, format string, v []any) {
	// Check first so disabled debug/trace lines cost no formatting.
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats")
}

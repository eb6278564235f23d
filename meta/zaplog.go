package meta

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdNoise lists etcd warnings that are expected for a single local embedded
// member and would only alarm a `kafscale dev` user; they are logged at info.
var etcdNoise = map[string]bool{
	"Running http and grpc server on single port. This is not recommended for production.": true,
	"simple token is not cryptographically signed":                                         true,
}

// newZapLogger returns a zap logger, as etcd's server and client require, that
// forwards entries at or above level to log, so etcd's output joins ours
// instead of going to stderr as JSON. While quiet (may be nil) is set, every
// entry is demoted to debug: etcd complains loudly while it shuts down.
func newZapLogger(log *slog.Logger, level zapcore.Level, quiet *atomic.Bool) *zap.Logger {
	return zap.New(&slogCore{log: log, level: level, quiet: quiet})
}

// slogCore is a zapcore.Core writing to a slog.Logger.
type slogCore struct {
	log   *slog.Logger
	level zapcore.Level
	quiet *atomic.Bool
	attrs []any // accumulated With fields, as slog key/value pairs
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.attrs = append(append([]any(nil), c.attrs...), fieldArgs(fields)...)
	return &clone
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.effective(e) >= c.level {
		return ce.AddCore(e, c)
	}
	return ce
}

// effective is the level an entry is logged at after demotion.
func (c *slogCore) effective(e zapcore.Entry) zapcore.Level {
	switch {
	case c.quiet != nil && c.quiet.Load():
		return min(e.Level, zapcore.DebugLevel)
	case etcdNoise[e.Message]:
		return min(e.Level, zapcore.InfoLevel)
	}
	return e.Level
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	args := append(append([]any(nil), c.attrs...), fieldArgs(fields)...)
	if e.LoggerName != "" {
		args = append(args, "logger", e.LoggerName)
	}
	c.log.Log(context.Background(), slogLevel(c.effective(e)), e.Message, args...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func fieldArgs(fields []zapcore.Field) []any {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	args := make([]any, 0, 2*len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		args = append(args, k, enc.Fields[k])
	}
	return args
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

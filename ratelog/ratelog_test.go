package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiterWritesBurstLinesPerWindowAndCountsTheRest(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := New("test_burst", 3, 10*time.Second)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }

	for i := range 10 {
		l.Log(log, slog.LevelInfo, "connection error", "i", i)
	}
	if n := strings.Count(buf.String(), "connection error"); n != 3 {
		t.Fatalf("%d lines in one window, want 3:\n%s", n, buf.String())
	}
	if got := l.dropped.Get(); got != 7 {
		t.Errorf("suppressed counter = %d, want 7", got)
	}

	// The next window's first line says how many were left out.
	now = now.Add(10 * time.Second)
	buf.Reset()
	l.Log(log, slog.LevelInfo, "connection error", "i", 10)
	if !strings.Contains(buf.String(), "suppressed=7") {
		t.Errorf("first line of the next window: %s", buf.String())
	}
	buf.Reset()
	l.Log(log, slog.LevelInfo, "connection error", "i", 11)
	if strings.Contains(buf.String(), "suppressed") {
		t.Errorf("second line repeats the count: %s", buf.String())
	}
}

func TestLimiterSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := New("test_level", 1, time.Hour)
	l.Log(log, slog.LevelInfo, "hidden")
	l.Log(log, slog.LevelWarn, "shown")
	if !strings.Contains(buf.String(), "shown") || l.dropped.Get() != 0 {
		t.Errorf("a line below the level used the budget: %q, dropped %d", buf.String(), l.dropped.Get())
	}
}

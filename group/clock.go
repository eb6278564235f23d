package group

import "time"

// clock is the coordinator's source of time; unit tests use a fake one.
type clock interface {
	Now() time.Time
	// AfterFunc runs f on a goroutine of its own after d.
	AfterFunc(d time.Duration, f func()) timer
}

// timer is a pending AfterFunc.
type timer interface {
	// Stop cancels the call if it has not started; a call that already started still runs.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

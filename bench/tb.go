package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
)

// CommandTB lets a command (kbench) use the process helpers written for tests,
// internal/testbroker and internal/testinfra, which take a testing.TB. It implements the
// methods those helpers call (Helper, Fatal, Fatalf, Errorf, Logf, Log, TempDir, Cleanup,
// Failed, Name); any other testing.TB method panics on the nil embedded interface.
//
// Fatal and Fatalf panic with a fatalError, which Guard turns back into an error; call the
// helpers only inside Guard, from one goroutine.
type CommandTB struct {
	testing.TB // nil; only satisfies the interface's unexported method

	log      io.Writer
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// NewCommandTB returns a CommandTB that logs to w.
func NewCommandTB(w io.Writer) *CommandTB { return &CommandTB{log: w} }

type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

// Guard runs fn, returning a Fatal inside it as an error.
func (c *CommandTB) Guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return fn()
}

// Close runs the registered cleanups, last first.
func (c *CommandTB) Close() {
	c.mu.Lock()
	fns := slices.Clone(c.cleanups)
	c.cleanups = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		_ = c.Guard(func() error { fns[i](); return nil })
	}
}

func (c *CommandTB) Helper()      {}
func (c *CommandTB) Name() string { return "kbench" }

func (c *CommandTB) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *CommandTB) fail() {
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
}

func (c *CommandTB) Log(args ...any)                 { fmt.Fprintln(c.log, args...) }
func (c *CommandTB) Logf(format string, args ...any) { fmt.Fprintf(c.log, format+"\n", args...) }

func (c *CommandTB) Errorf(format string, args ...any) {
	c.fail()
	c.Logf(format, args...)
}

func (c *CommandTB) Fatal(args ...any) {
	c.fail()
	panic(fatalError{fmt.Sprint(args...)})
}

func (c *CommandTB) Fatalf(format string, args ...any) {
	c.fail()
	panic(fatalError{fmt.Sprintf(format, args...)})
}

func (c *CommandTB) Cleanup(fn func()) {
	c.mu.Lock()
	c.cleanups = append(c.cleanups, fn)
	c.mu.Unlock()
}

// TempDir returns a new directory, removed by Close.
func (c *CommandTB) TempDir() string {
	dir, err := os.MkdirTemp("", "kbench-")
	if err != nil {
		c.Fatalf("cannot create a temp dir: %v", err)
	}
	c.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

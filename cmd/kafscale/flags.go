package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
)

// shortFlags maps each one-letter alias to the flag it stands for. The alias shares its
// flag's variable, so giving either must keep KAFSCALE_<FLAG> from overriding it, and the
// alias has no variable of its own.
var shortFlags = map[string]string{"b": "bootstrap-server"}

// applyEnv sets every flag not given on the command line from KAFSCALE_<NAME>, so
// containers can configure the broker without a wrapper script.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		if long, ok := shortFlags[f.Name]; ok {
			given[long] = true
		}
	})
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if _, alias := shortFlags[f.Name]; alias || given[f.Name] || err != nil {
			return
		}
		env := "KAFSCALE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q (for --%s): %v", env, v, f.Name, e)
			}
		}
	})
	return err
}

// splitHostPort parses a listener address, naming the flag in its error.
func splitHostPort(flagName, addr string) (string, int32, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--%s must be host:port (set to %q): %v", flagName, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("--%s port must be 0-65535 (set to %q)", flagName, addr)
	}
	return host, int32(port), nil
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error (set to %q)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be json or text (set to %q)", format)
	}
}

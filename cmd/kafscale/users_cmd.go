package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kafscale/kafscale/admin"
	"github.com/kafscale/kafscale/sasl"
)

const usersUsage = `usage: kafscale users <verb> [flags] [USER...]

verbs (SCRAM users, kept by the cluster; like kafka-configs.sh --entity-type users, they
speak the Kafka protocol: AlterUserScramCredentials and DescribeUserScramCredentials):
  create USER        create or replace USER's SCRAM credentials: --password or
                     --password-file (- for stdin), --mechanism (default both SCRAM-SHA-256
                     and SCRAM-SHA-512), --iterations (4096-16384, default 8192)
  delete USER        delete USER's credentials (--mechanism: only those)
  list [USER...]     users and their mechanisms and iterations (every user when none is
                     named)
  hash-password      print the salted hash of --password or --password-file for a
                     --sasl-plain-users-file line user:<hash> (works offline)

Every verb but hash-password takes -b/--bootstrap-server host:port[,host:port] (default
127.0.0.1:9092, or KAFSCALE_BOOTSTRAP_SERVER), --output table|json, --timeout (30s) and
--command-config (Kafka client properties for an SSL or SASL listener).
Exit status: 0 done, 1 the operation failed, 2 bad usage.
`

// usersCmd holds the flags every users verb shares.
type usersCmd struct {
	topicsCmd
	password, passwordFile string
	mechanisms             string
}

func runUsers(args []string) error { return runUsersTo(os.Stdout, os.Stdin, args) }

func runUsersTo(stdout io.Writer, stdin io.Reader, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usersUsage)
		return usagef("missing verb")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usersUsage)
		return nil
	}
	u := &usersCmd{topicsCmd: topicsCmd{groupsCmd: groupsCmd{cfg: admin.DefaultConfig(), stdout: stdout}, verb: args[0], command: "users"}}
	switch args[0] {
	case "create":
		return u.create(args[1:], stdin)
	case "delete":
		return u.delete(args[1:])
	case "list":
		return u.list(args[1:])
	case "hash-password":
		return u.hashPassword(args[1:], stdin)
	}
	return usagef("unknown verb %q (want create, delete, list or hash-password; see kafscale users -h)", args[0])
}

func (u *usersCmd) passwordFlags(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&u.password, "password", "", "the password (visible to other users of the machine in the process list: prefer --password-file)")
	fs.StringVar(&u.passwordFile, "password-file", "", "file whose first line is the password; - reads it from stdin")
}

// readPassword returns the password given by --password or --password-file.
func (u *usersCmd) readPassword(stdin io.Reader) (string, error) {
	switch {
	case u.password != "" && u.passwordFile != "":
		return "", usagef("%s: give --password or --password-file, not both", u.verb)
	case u.password != "":
		return u.password, nil
	case u.passwordFile == "":
		return "", usagef("%s: needs --password or --password-file", u.verb)
	}
	r := stdin
	if u.passwordFile != "-" {
		f, err := os.Open(u.passwordFile)
		if err != nil {
			return "", fmt.Errorf("cannot read --password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("cannot read --password-file: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("--password-file %s holds no password", u.passwordFile)
	}
	return line, nil
}

// mechanismList returns --mechanism's names, or def when it is empty.
func (u *usersCmd) mechanismList(def []string) ([]string, error) {
	if u.mechanisms == "" {
		return def, nil
	}
	ms := sasl.ParseMechanisms(u.mechanisms)
	for _, m := range ms {
		if _, ok := admin.ScramMechanisms[m]; !ok {
			return nil, usagef("%s: --mechanism %q is not SCRAM-SHA-256 or SCRAM-SHA-512", u.verb, m)
		}
	}
	return ms, nil
}

func (u *usersCmd) create(args []string, stdin io.Reader) error {
	fs := u.flags("USER (--password P | --password-file F) [--mechanism M] [--iterations N]")
	u.passwordFlags(fs)
	fs.StringVar(&u.mechanisms, "mechanism", "", "SCRAM-SHA-256, SCRAM-SHA-512 or both, comma-separated (default both)")
	iterations := fs.Int("iterations", 8192, "SCRAM iterations, 4096-16384")
	pos, help, err := u.parse(fs, args)
	if help || err != nil {
		return err
	}
	user, err := u.oneName(pos)
	if err != nil {
		return err
	}
	if *iterations < sasl.ScramMinIterations || *iterations > sasl.ScramMaxIterations {
		return usagef("create: --iterations must be %d-%d (set to %d)", sasl.ScramMinIterations, sasl.ScramMaxIterations, *iterations)
	}
	mechs, err := u.mechanismList([]string{sasl.ScramSHA256, sasl.ScramSHA512})
	if err != nil {
		return err
	}
	password, err := u.readPassword(stdin)
	if err != nil {
		return err
	}
	cl, err := u.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, m := range mechs {
		if err := cl.UpsertUser(context.Background(), user, m, password, int32(*iterations)); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	}
	fmt.Fprintf(u.stdout, "set %s credentials of user %s\n", strings.Join(mechs, " and "), user)
	return nil
}

func (u *usersCmd) delete(args []string) error {
	fs := u.flags("USER [--mechanism M]")
	fs.StringVar(&u.mechanisms, "mechanism", "", "delete only these mechanisms' credentials, comma-separated (default all of the user's)")
	pos, help, err := u.parse(fs, args)
	if help || err != nil {
		return err
	}
	user, err := u.oneName(pos)
	if err != nil {
		return err
	}
	mechs, err := u.mechanismList(nil)
	if err != nil {
		return err
	}
	cl, err := u.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.DeleteUser(context.Background(), user, mechs...); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	fmt.Fprintf(u.stdout, "deleted the SCRAM credentials of user %s\n", user)
	return nil
}

func (u *usersCmd) list(args []string) error {
	fs := u.flags("[USER...]")
	pos, help, err := u.parse(fs, args)
	if help || err != nil {
		return err
	}
	cl, err := u.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	creds, err := cl.ListUsers(context.Background(), pos...)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if u.output == "json" {
		return u.writeJSON(creds)
	}
	w := u.table()
	fmt.Fprintln(w, "USER\tMECHANISM\tITERATIONS")
	for _, c := range creds {
		fmt.Fprintf(w, "%s\t%s\t%d\n", c.User, c.Mechanism, c.Iterations)
	}
	return w.Flush()
}

func (u *usersCmd) hashPassword(args []string, stdin io.Reader) error {
	fs := u.flags("(--password P | --password-file F)")
	u.passwordFlags(fs)
	pos, help, err := u.parse(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("hash-password: takes no arguments (got %q)", pos)
	}
	password, err := u.readPassword(stdin)
	if err != nil {
		return err
	}
	h, err := sasl.HashPassword(password)
	if err != nil {
		return err
	}
	fmt.Fprintln(u.stdout, h)
	return nil
}

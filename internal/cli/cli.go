// Package cli implements the medledger command: `medledger <noun> <verb>`,
// one file per noun. It is the only place where plaintext meets a terminal.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"medledger"
	"medledger/client"
	"medledger/internal/node"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags or arguments
	// exitSuspect: `supply verify` found the pack suspect (or unknown), so a
	// script at the counter can branch on it.
	exitSuspect = 3
)

// command is a leaf command.
type command struct {
	path    string // "org admit"
	summary string
	details string // more about the command, shown by --help after the summary
	usage   string // argument synopsis after the flags
	example string
	setup   func(*env, *flag.FlagSet) // registers the command's own flags
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what a running command has: streams, common flags and helpers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	home           string
	nodeURL        string
	output         string
	passFile       string
	trust          trustFlags
	verified       *client.Client // set when trust flags are given (light.go)
}

// usageError marks an error as the caller's misuse: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitStatus ends a command that has written its answer with an exit code
// other than 0, without an error message: the answer says why.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

func commands() []command {
	var cs []command
	cs = append(cs, nodeCommands()...)
	cs = append(cs, joinCommands()...)
	cs = append(cs, keysCommands()...)
	cs = append(cs, identityCommands()...)
	cs = append(cs, queryCommands()...)
	cs = append(cs, recordCommands()...)
	cs = append(cs, validatorCommands()...)
	cs = append(cs, testnetCommands()...)
	cs = append(cs, supplyCommands()...)
	cs = append(cs, epcisCommands()...)
	cs = append(cs, benchCommands()...)
	return cs
}

func defaultHome() string {
	if h := os.Getenv("MEDLEDGER_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".medledger"
	}
	return filepath.Join(dir, ".medledger")
}

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := commands()
	args = hoistGlobalFlags(args)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		topUsage(stdout, cmds, args)
		return exitOK
	}
	// Find the longest command path that prefixes args.
	var cmd *command
	var n int
	for i := range cmds {
		parts := strings.Fields(cmds[i].path)
		if len(parts) <= len(args) && strings.Join(args[:len(parts)], " ") == cmds[i].path && len(parts) > n {
			cmd, n = &cmds[i], len(parts)
		}
	}
	if cmd == nil {
		// A noun without a verb, or a typo.
		var subs []string
		for _, c := range cmds {
			if strings.HasPrefix(c.path, args[0]+" ") {
				subs = append(subs, "  medledger "+c.path+"\t"+c.summary)
			}
		}
		if len(subs) > 0 {
			fmt.Fprintf(stderr, "medledger %s: choose a subcommand:\n%s\n", args[0], strings.Join(subs, "\n"))
			return exitUsage
		}
		fmt.Fprintf(stderr, "medledger: unknown command %q; run `medledger help`\n", args[0])
		return exitUsage
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("medledger "+cmd.path, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&e.home, "home", defaultHome(), "node and keyring `directory` ($MEDLEDGER_HOME)")
	fs.StringVar(&e.nodeURL, "node", "", "node API `URL` (default: $MEDLEDGER_NODE, else the API address in <home>/config/app.toml)")
	fs.StringVar(&e.output, "output", "table", "output `format`: table or json")
	fs.StringVar(&e.passFile, "passphrase-file", "", "read the keyring passphrase from this `file` (default: $MEDLEDGER_PASSPHRASE, else a prompt)")
	e.trust.register(fs)
	if cmd.setup != nil {
		cmd.setup(e, fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: medledger %s [flags] %s\n\n%s\n", cmd.path, cmd.usage, cmd.summary)
		if cmd.details != "" {
			fmt.Fprintf(stdout, "\n%s\n", strings.TrimRight(cmd.details, "\n"))
		}
		if cmd.example != "" {
			fmt.Fprintf(stdout, "\nExample:\n%s\n", indent(cmd.example))
		}
		fmt.Fprintf(stdout, "\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	positional, err := parseInterspersed(fs, args[n:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if e.output != "table" && e.output != "json" {
		fmt.Fprintln(stderr, "medledger: --output must be table or json")
		return exitUsage
	}
	if err := e.trust.connect(ctx, e); err != nil {
		fmt.Fprintf(stderr, "medledger %s: %v\n", cmd.path, err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return exitError
	}
	if err := cmd.run(ctx, e, positional); err != nil {
		var st exitStatus
		if errors.As(err, &st) {
			return int(st)
		}
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "medledger %s: %v\nRun `medledger %s --help` for usage.\n", cmd.path, err, cmd.path)
			return exitUsage
		}
		fmt.Fprintf(stderr, "medledger %s: %v\n", cmd.path, err)
		return exitError
	}
	return exitOK
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments, as users write `medledger query account ID --prove`. "--" ends
// the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// globalFlags may also come before the command: `medledger --home H org list`.
var globalFlags = []string{"home", "node", "output", "passphrase-file"}

// hoistGlobalFlags moves leading global flags after the command words.
func hoistGlobalFlags(args []string) []string {
	var lead []string
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-h" && args[i] != "--help" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		known := false
		for _, g := range globalFlags {
			known = known || g == name
		}
		if !known {
			break
		}
		lead = append(lead, args[i])
		if !hasValue && i+1 < len(args) {
			lead = append(lead, args[i+1])
			i++
		}
		i++
	}
	if len(lead) == 0 {
		return args
	}
	return append(args[i:], lead...)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func topUsage(w io.Writer, cmds []command, args []string) {
	fmt.Fprint(w, `medledger runs and uses a node of the medledger permissioned health ledger.

Usage: medledger <command> [flags]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].path < cmds[j].path })
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.path, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun `medledger <command> --help` for a command's flags and an example.\n")
}

// client returns an API client for the node.
func (e *env) client() *client.Client {
	if e.verified != nil {
		return e.verified
	}
	return client.New(e.apiURL())
}

// apiURL is the node API's URL: --node, $MEDLEDGER_NODE, or the home's
// configuration.
func (e *env) apiURL() string {
	u := e.nodeURL
	if u == "" {
		u = os.Getenv("MEDLEDGER_NODE")
	}
	if u == "" {
		c, err := node.LoadConfig(e.home)
		listen := node.DefaultAPIListen
		if err == nil {
			listen = c.API.Listen
		}
		u = "http://" + listen
	}
	return u
}

func (e *env) keyring() (*client.Keyring, error) {
	return client.OpenKeyring(filepath.Join(e.home, "keyring"))
}

// passphrase returns the keyring passphrase: --passphrase-file, then
// $MEDLEDGER_PASSPHRASE, then a prompt on a terminal. Without any of them it
// is empty (the development default `make run` uses).
func (e *env) passphrase(prompt string, confirm bool) (string, error) {
	if e.passFile != "" {
		b, err := os.ReadFile(e.passFile)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv("MEDLEDGER_PASSPHRASE"); ok {
		return p, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", nil
	}
	fmt.Fprint(e.stderr, prompt+": ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprint(e.stderr, "Repeat passphrase: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(again) != string(p) {
			return "", errors.New("the passphrases differ")
		}
	}
	return string(p), nil
}

// key loads a keyring key for signing.
func (e *env) key(name string) (*client.Key, error) {
	kr, err := e.keyring()
	if err != nil {
		return nil, err
	}
	if _, err := kr.Info(name); err != nil {
		return nil, fmt.Errorf("key %q: %w (see `medledger keys list`)", name, err)
	}
	p, err := e.passphrase("Passphrase for key "+name, false)
	if err != nil {
		return nil, err
	}
	return kr.Get(name, p)
}

// print writes v as JSON, or as the table rows(v) gives.
func (e *env) print(v any, rows func(tw io.Writer)) error {
	if e.output == "json" || rows == nil {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	rows(tw)
	return tw.Flush()
}

// printTx reports a committed tx.
func (e *env) printTx(st *medledger.TxStatus) error {
	return e.print(st, func(tw io.Writer) { txRows(tw, st) })
}

// txRows writes a committed tx as table rows.
func txRows(tw io.Writer, st *medledger.TxStatus) {
	fmt.Fprintf(tw, "tx\t%s\nstatus\t%s\nheight\t%d\n", st.Hash, st.Status, st.Height)
	for _, ev := range st.Events {
		if ev.Type == "message" {
			continue
		}
		var attrs []string
		for _, a := range ev.Attrs {
			attrs = append(attrs, a.Key+"="+a.Value)
		}
		fmt.Fprintf(tw, "event\t%s %s\n", ev.Type, strings.Join(attrs, " "))
	}
}

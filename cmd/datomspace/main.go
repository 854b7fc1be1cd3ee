// Command datomspace is the command-line interface to a datomspace peer: it parses flags, calls
// the peer and corestore packages, prints results and sets the exit code (0 success, 1 error,
// 2 bad usage, 130 interrupted). It holds no logic of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/datomspace/datomspace/peer"
)

// command is one subcommand.
type command struct {
	name    string
	usage   string // the synopsis after the command's name
	summary string // one line
	args    string // what the arguments are, for --help (may be empty)
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand, in the order help shows them.
func commands() []command {
	return slices.Concat(coreCommands(), datomCommands(), blobCommands(), netCommands(), replicaCommands(), assetCommands(), doipCommands(), dwnCommands(), apiCommands(), testnetCommands(), miscCommands())
}

// env is what every command gets: the streams, the global settings and the command itself.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	repo           string // --repo given before the command
	cmd            command
}

// usageError marks bad usage: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitInterrupted is the exit code of a command stopped by Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	level := slog.LevelWarn
	if os.Getenv("DATOMSPACE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	// Global flags before the command: --repo DIR.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch {
		case name == "repo" && hasVal:
			e.repo, args = val, args[1:]
		case name == "repo" && len(args) > 1:
			e.repo, args = args[1], args[2:]
		case name == "h" || name == "help":
			printHelp(stdout)
			return 0
		case name == "version":
			args = append([]string{"version"}, args[1:]...)
		default:
			fmt.Fprintf(stderr, "datomspace: unknown global flag %s (the only one is --repo DIR; command flags go after the command)\n", args[0])
			return 2
		}
	}
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	if args[0] == "help" {
		if len(args) == 1 {
			printHelp(stdout)
			return 0
		}
		args = []string{args[1], "--help"}
	}
	cs := commands()
	i := slices.IndexFunc(cs, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "datomspace: unknown command %q%s (run `datomspace help` for the list)\n", args[0], suggest(args[0], cs))
		return 2
	}
	c := cs[i]
	e.cmd = c
	err := c.run(ctx, e, args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "datomspace %s: %s\nusage: datomspace %s %s   (more: datomspace %s --help)\n", c.name, ue.msg, c.name, c.usage, c.name)
		return 2
	case errors.Is(err, peer.ErrInterrupted) || (ctx.Err() != nil && errors.Is(err, context.Canceled)):
		fmt.Fprintf(stderr, "datomspace %s: %s\n", c.name, oneLine(withHint(err)))
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "datomspace %s: %s\n", c.name, oneLine(withHint(err)))
		return 1
	}
}

// suggest names the command nearest to a mistyped one, when one is near.
func suggest(typo string, cs []command) string {
	best, bestD := "", 3
	for _, c := range cs {
		if d := editDistance(typo, c.name); d < bestD || (d == bestD && best == "" && strings.HasPrefix(c.name, typo)) {
			best, bestD = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean `%s`?", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "datomspace: a peer-to-peer data space of signed append-only cores")
	fmt.Fprintln(w, "\nusage: datomspace [--repo DIR] COMMAND [args] [--flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nThe repo is $DATOMSPACE_PATH (default ~/.datomspace); --repo DIR overrides it.")
	fmt.Fprintln(w, "Every command that prints data takes --json. `datomspace help COMMAND` shows a command's help.")
}

// printCommandHelp prints a command's synopsis, summary, arguments and flags.
func printCommandHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: datomspace %s %s\n\n%s\n", c.name, c.usage, c.summary)
	if c.args != "" {
		fmt.Fprintf(w, "\narguments:\n%s\n", strings.TrimRight(c.args, "\n"))
	}
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if n, ok := map[string]string{"string": "TEXT", "value": "VALUE", "duration": "DURATION", "int": "N", "uint": "N", "int64": "N", "uint64": "N", "float": "X"}[name]; ok {
			name = n
		}
		if n, ok := flagValueNames[f.Name]; ok && name != "" && !strings.Contains(f.Usage, "`") {
			name = n
		}
		left := "--" + f.Name
		if name != "" {
			left += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, fmt.Sprintf("  %-24s %s%s", left, usage, def))
	})
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nflags:\n%s\n", strings.Join(lines, "\n"))
	}
}

// wantsHelp reports whether the arguments of a command with subcommands ask for its help.
func wantsHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")
}

// showHelp prints the help of a command with subcommands, whose flags depend on the subcommand.
func showHelp(e *env) error {
	printCommandHelp(e.stdout, e.cmd, flag.NewFlagSet(e.cmd.name, flag.ContinueOnError))
	return flag.ErrHelp
}

// flagValueNames name the values of flags that several commands share, for --help.
var flagValueNames = map[string]string{"start": "N", "end": "N", "as-of": "TX", "repo": "DIR", "bootstrap": "MULTIADDR",
	"peer": "MULTIADDR", "listen": "MULTIADDR", "follow": "KEY", "api": "127.0.0.1:PORT", "file": "FILE", "dir": "DIR"}

// flags is a flag set that accepts flags before, between and after positional arguments.
type flags struct {
	*flag.FlagSet
	e    *env
	repo *string
	json *bool
}

func newFlags(name string, e *env) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are ours to print, as one line
	fs.Usage = func() {}     // parse prints the help for --help, and errors as one line
	return &flags{FlagSet: fs, e: e}
}

func (f *flags) withRepo() *flags {
	f.repo = f.String("repo", f.e.repo, "repo directory (default $DATOMSPACE_PATH or ~/.datomspace)")
	return f
}

func (f *flags) withJSON() *flags {
	f.json = f.Bool("json", false, "print JSON lines")
	return f
}

// parse parses args, collecting positional arguments wherever they stand; "--" ends flags.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(f.e.stdout, f.e.cmd, f.FlagSet)
				return nil, err
			}
			return nil, usageError{dashes(err.Error())}
		}
		rest := f.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

// dashes rewrites the flag package's "-name" to the "--name" the README writes.
func dashes(msg string) string {
	for _, p := range []string{"defined: -", "for flag -", "needs an argument: -"} {
		msg = strings.Replace(msg, p, p+"-", 1)
	}
	return msg
}

// withBackend parses args, checks the positional arguments with check (nil accepts any), and runs
// fn with the daemon's API or, when no daemon runs, the repo itself.
func (f *flags) withBackend(ctx context.Context, e *env, args []string, check func(pos []string) error,
	fn func(b peer.Backend, pos []string) error) error {
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(pos); err != nil {
			return err
		}
	}
	b, err := peer.OpenBackend(ctx, repoPath(f), e.log)
	if err != nil {
		return err
	}
	defer b.Close()
	return fn(b, pos)
}

// nargs accepts exactly n positional arguments, or says msg.
func nargs(n int, msg string) func([]string) error {
	return func(pos []string) error {
		if len(pos) != n {
			return usagef("%s", msg)
		}
		return nil
	}
}

// Command datomspace is the command-line interface to a datomspace peer: it parses flags, calls
// the peer and corestore packages, prints results and sets the exit code (0 success, 1 error,
// 2 bad usage). It holds no logic of its own.
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
	"sort"
	"strings"
	"syscall"

	"github.com/datomspace/datomspace/peer"
)

// command is one subcommand.
type command struct {
	name    string
	usage   string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what every command gets: the streams and the global settings.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
}

// usageError marks bad usage: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

var commands []command

func register(c command) { commands = append(commands, c) }

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
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			var ue usageError
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, &ue):
				fmt.Fprintf(stderr, "datomspace %s: %s\nusage: datomspace %s %s\n", c.name, ue.msg, c.name, c.usage)
				return 2
			default:
				fmt.Fprintf(stderr, "datomspace %s: %s\n", c.name, oneLine(withHint(err)))
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "datomspace: unknown command %q (run `datomspace help`)\n", args[0])
	return 2
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "datomspace: a peer-to-peer data space of signed append-only cores")
	fmt.Fprintln(w, "\nusage: datomspace COMMAND [flags] [args]\n\ncommands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nThe repo is $DATOMSPACE_PATH (default ~/.datomspace); --repo overrides it.")
	fmt.Fprintln(w, "Every command that prints data takes --json.")
}

// flags is a flag set that accepts flags before, between and after positional arguments.
type flags struct {
	*flag.FlagSet
	repo *string
	json *bool
}

func newFlags(name string, e *env) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return &flags{FlagSet: fs}
}

func (f *flags) withRepo() *flags {
	f.repo = f.String("repo", "", "repo directory (default $DATOMSPACE_PATH or ~/.datomspace)")
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
				return nil, err
			}
			return nil, usageError{err.Error()}
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

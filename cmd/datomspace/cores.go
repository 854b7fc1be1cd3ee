package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/datomspace/datomspace/peer"
)

func coreCommands() []command {
	return []command{
		{name: "init", usage: "[--primary-key HEX] [--json]",
			summary: "create a repo", run: cmdInit},
		{name: "create", usage: "NAME [--encryption-key HEX | --encrypted] [--json]",
			summary: "create a writable core and print its key", run: cmdCreate},
		{name: "append", usage: "NAME|KEY BLOCK... | --stdin [--hex] [--json]",
			summary: "append blocks to a core", run: cmdAppend},
		{name: "info", usage: "NAME|KEY [--json]",
			summary: "show a core's key, length, tree hash and signature", run: cmdInfo},
		{name: "cat", usage: "NAME|KEY|CID [--start N] [--end N] [--json]",
			summary: "print a core's blocks, or a blob the repo holds", run: cmdCat},
		{name: "cores", usage: "[--json]",
			summary: "list the cores in the repo", run: cmdCores},
		{name: "verify", usage: "NAME|KEY [--json]",
			summary: "check every stored block against the signed tree", run: cmdVerify},
	}
}

func repoPath(f *flags) string {
	if f.repo != nil && *f.repo != "" {
		return *f.repo
	}
	return peer.DefaultRepoPath()
}

// backend returns the running daemon's API, or the repo itself when no daemon runs.
func backend(ctx context.Context, e *env, f *flags) (peer.Backend, error) {
	return peer.OpenBackend(ctx, repoPath(f), e.log)
}

// printJSON prints v as one line of JSON, with <, > and & as they are.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func cmdInit(ctx context.Context, e *env, args []string) error {
	f := newFlags("init", e).withRepo().withJSON()
	pk := f.String("primary-key", "", "fixed primary key, 64 hex characters (for reproducible setups only)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("init takes no arguments")
	}
	var opts []peer.RepoOption
	opts = append(opts, peer.WithRepoLogger(e.log))
	if *pk != "" {
		k, err := peer.ParsePrimaryKey(*pk)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, "warning: --primary-key makes every core key reproducible; anyone who knows it can write your cores. Use it for tests and reproducible setups only.")
		opts = append(opts, peer.WithPrimaryKey(k))
	}
	r, err := peer.InitRepo(ctx, repoPath(f), opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	if *f.json {
		return printJSON(e.stdout, map[string]string{"repo": r.Path})
	}
	fmt.Fprintf(e.stdout, "initialized datomspace repo in %s\n", r.Path)
	return nil
}

func cmdCreate(ctx context.Context, e *env, args []string) error {
	f := newFlags("create", e).withRepo().withJSON()
	ek := f.String("encryption-key", "", "encrypt the core with this key, 64 hex characters (Hypercore 11's encryptionKey)")
	enc := f.Bool("encrypted", false, "encrypt the core with a new random key, kept in the repo")
	return f.withBackend(ctx, e, args, nargs(1, "create takes one NAME"), func(b peer.Backend, pos []string) error {
		if *ek != "" && *enc {
			return usagef("give --encryption-key or --encrypted, not both")
		}
		in, err := peer.Call(ctx, b, peer.OpCreate, peer.CreateRequest{Name: pos[0], EncryptionKey: *ek, Encrypted: *enc})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, in)
		}
		fmt.Fprintln(e.stdout, in.Key)
		return nil
	})
}

// stdinBatch and stdinBatchBytes bound the --stdin lines appended per atomic append (the API
// takes at most peer.MaxAppendBody per request).
const (
	stdinBatch      = 1000
	stdinBatchBytes = 16 << 20
)

func cmdAppend(ctx context.Context, e *env, args []string) error {
	f := newFlags("append", e).withRepo().withJSON()
	isHex := f.Bool("hex", false, "blocks are hex-encoded")
	stdin := f.Bool("stdin", false, "read newline-delimited blocks from standard input")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usagef("append needs NAME|KEY")
	}
	if *stdin == (len(pos) > 1) {
		return usagef("give blocks as arguments or with --stdin, not both or neither")
	}
	decode := func(s string) ([]byte, error) {
		if !*isHex {
			return []byte(s), nil
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("block %q is not hex: %w", s, err)
		}
		return b, nil
	}
	var blocks [][]byte
	for _, a := range pos[1:] {
		b, err := decode(a)
		if err != nil {
			return err
		}
		blocks = append(blocks, b)
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	var res peer.AppendResult
	if *stdin {
		prog := newProgress(e.stderr, "appending")
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64*1024), 64<<20)
		line, batchBytes := 0, 0
		// partial says, after a failure, what was appended before it: each batch is atomic.
		partial := func(err error) error {
			if res.Appended == 0 {
				return fmt.Errorf("%w; nothing was appended", err)
			}
			return fmt.Errorf("%w; the first %s were appended (length %d): to finish, append the input from line %d on",
				err, count(int(res.Appended), "line"), res.Length, res.Appended+1)
		}
		flush := func() error {
			if len(blocks) == 0 {
				return nil
			}
			r, err := peer.Call(ctx, b, peer.OpAppend, peer.AppendRequest{Ref: pos[0], Blocks: blocks})
			if err != nil {
				return err
			}
			res.Key, res.Length, res.Appended = r.Key, r.Length, res.Appended+r.Appended
			blocks, batchBytes = blocks[:0], 0
			prog.update(fmt.Sprintf("%d blocks", res.Appended))
			return nil
		}
		for sc.Scan() {
			line++
			blk, err := decode(sc.Text())
			if err != nil {
				return partial(fmt.Errorf("line %d: %w", line, err))
			}
			blocks = append(blocks, blk)
			batchBytes += len(blk)
			if len(blocks) == stdinBatch || batchBytes >= stdinBatchBytes {
				if err := flush(); err != nil {
					return partial(err)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return partial(fmt.Errorf("read stdin at line %d: %w", line, err))
		}
		if err := flush(); err != nil {
			return partial(err)
		}
		prog.done()
		if res.Key == "" {
			in, err := peer.Call(ctx, b, peer.OpInfo, peer.CoreRef{Ref: pos[0]})
			if err != nil {
				return err
			}
			res = peer.AppendResult{Key: in.Key, Length: in.Length}
		}
	} else if res, err = peer.Call(ctx, b, peer.OpAppend, peer.AppendRequest{Ref: pos[0], Blocks: blocks}); err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "appended %s, length %d\n", count(int(res.Appended), "block"), res.Length)
	return nil
}

func cmdInfo(ctx context.Context, e *env, args []string) error {
	f := newFlags("info", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(1, "info takes one NAME|KEY"), func(b peer.Backend, pos []string) error {
		in, err := peer.Call(ctx, b, peer.OpInfo, peer.CoreRef{Ref: pos[0]})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, in)
		}
		w := e.stdout
		fmt.Fprintf(w, "key           %s\n", in.Key)
		fmt.Fprintf(w, "discoveryKey  %s\n", in.DiscoveryKey)
		if in.Name != "" {
			fmt.Fprintf(w, "name          %s\n", in.Name)
		}
		fmt.Fprintf(w, "writable      %v\n", in.Writable)
		fmt.Fprintf(w, "length        %d (%d stored contiguously)\n", in.Length, in.Contiguous)
		fmt.Fprintf(w, "byteLength    %d\n", in.ByteLength)
		fmt.Fprintf(w, "fork          %d\n", in.Fork)
		fmt.Fprintf(w, "treeHash      %s\n", in.TreeHash)
		fmt.Fprintf(w, "signature     %s\n", in.Signature)
		if in.Announced != nil {
			fmt.Fprintf(w, "announced     %s\n", in.Announced.Format(time.RFC3339))
		}
		if in.Encrypted {
			held := "not held here: reads fail until a grant releases it"
			if in.KeyHeld {
				held = "held"
			}
			fmt.Fprintf(w, "encrypted     key %s, key check %s\n", held, dash(in.KeyCheck))
		}
		if in.Frozen != "" {
			fmt.Fprintf(w, "FROZEN        %s\n", in.Frozen)
		}
		return nil
	})
}

func parseIndex(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usagef("--%s must be a block index (a non-negative integer), got %q", name, s)
	}
	return v, nil
}

// rangeFlags adds --start and --end to f; the function it returns parses them after f.parse.
// end is 0 when --end is not given.
func rangeFlags(f *flags, endHelp string) func() (start, end uint64, err error) {
	startS := f.String("start", "0", "first block")
	endS := f.String("end", "", endHelp)
	return func() (uint64, uint64, error) {
		start, err := parseIndex("start", *startS)
		if err != nil || *endS == "" {
			return start, 0, err
		}
		end, err := parseIndex("end", *endS)
		return start, end, err
	}
}

func cmdCat(ctx context.Context, e *env, args []string) error {
	f := newFlags("cat", e).withRepo().withJSON()
	blockRange := rangeFlags(f, "end block, exclusive (default: the length)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cat takes one NAME|KEY|CID")
	}
	if peer.IsBlobCID(pos[0]) {
		return catBlob(ctx, e, f, pos[0])
	}
	start, end, err := blockRange()
	if err != nil {
		return err
	}
	if end == 0 && f.Lookup("end").Value.String() == "0" {
		return nil // --end 0: nothing to print
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	table := &datomTable{w: w, json: *f.json}
	raw := blockPrinter(w, *f.json)
	_, err = peer.Stream(ctx, b, peer.OpBlocks, peer.BlocksRequest{Ref: pos[0], Start: start, End: end},
		func(blk peer.Block) error { return table.block(blk.Index, blk.Data, raw) })
	return err
}

// blockPrinter prints blocks as raw lines, or as JSON lines with hex and, for UTF-8, text.
func blockPrinter(w io.Writer, asJSON bool) func(i uint64, b []byte) error {
	return func(i uint64, b []byte) error {
		if asJSON {
			rec := map[string]any{"index": i, "hex": hex.EncodeToString(b)}
			if utf8.Valid(b) {
				rec["text"] = string(b)
			}
			return printJSON(w, rec)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	}
}

func cmdCores(ctx context.Context, e *env, args []string) error {
	f := newFlags("cores", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "cores takes no arguments"), func(b peer.Backend, pos []string) error {
		cores, err := peer.Call(ctx, b, peer.OpCores, peer.None{})
		if err != nil {
			return err
		}
		if *f.json {
			for _, c := range cores {
				if err := printJSON(e.stdout, c); err != nil {
					return err
				}
			}
			return nil
		}
		if len(cores) == 0 {
			fmt.Fprintln(e.stdout, "no cores yet (create one with `datomspace create NAME`)")
			return nil
		}
		fmt.Fprintf(e.stdout, "%-64s  %-8s  %10s  %10s  %-9s  %s\n", "KEY", "MODE", "LENGTH", "HELD", "ANNOUNCED", "NAME")
		for _, c := range cores {
			mode := "replica"
			if c.Writable {
				mode = "writable"
			}
			ann := "-"
			if c.Announced != nil {
				ann = "yes"
			}
			fmt.Fprintf(e.stdout, "%-64s  %-8s  %10d  %10d  %-9s  %s\n", c.Key, mode, c.Length, c.Held, ann, c.Name)
		}
		return nil
	})
}

func cmdVerify(ctx context.Context, e *env, args []string) error {
	f := newFlags("verify", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(1, "verify takes one NAME|KEY"), func(b peer.Backend, pos []string) error {
		in, err := peer.Call(ctx, b, peer.OpVerify, peer.CoreRef{Ref: pos[0]})
		if err != nil {
			return err
		}
		missing := in.Length - in.Held
		if *f.json {
			return printJSON(e.stdout, map[string]any{"key": in.Key, "length": in.Length, "held": in.Held, "verified": in.Held, "missing": missing, "ok": true})
		}
		switch {
		case in.Length == 0:
			fmt.Fprintf(e.stdout, "ok: %s is empty; there is nothing to verify\n", in.Key)
		case missing == 0 && in.Length == 1:
			fmt.Fprintf(e.stdout, "ok: the signed tree of %s and its one block verify against its signature\n", in.Key)
		case missing == 0:
			fmt.Fprintf(e.stdout, "ok: the signed tree of %s and all %d blocks verify against its signature\n", in.Key, in.Length)
		default:
			fmt.Fprintf(e.stdout, "ok: the signed tree of %s (length %d) and the %s held here verify against its signature; %s not held here\n",
				in.Key, in.Length, count(int(in.Held), "block"), count(int(missing), "block is"))
		}
		return nil
	})
}

// progress prints a status line to a terminal; it is silent when w is not a TTY.
type progress struct {
	w     io.Writer
	what  string
	isTTY bool
	shown bool
}

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.isTTY = true
		}
	}
	return p
}

func (p *progress) update(s string) {
	if p.isTTY {
		fmt.Fprintf(p.w, "\r%s: %s\033[K", p.what, s)
		p.shown = true
	}
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

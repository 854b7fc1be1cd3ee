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
	"unicode/utf8"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/peer"
)

func init() {
	register(command{"init", "[--primary-key HEX] [--json]", "create a repo", cmdInit})
	register(command{"create", "NAME [--json]", "create a writable core and print its key", cmdCreate})
	register(command{"append", "NAME|KEY BLOCK... | --stdin [--hex] [--json]", "append blocks to a core", cmdAppend})
	register(command{"info", "NAME|KEY [--json]", "show a core's key, length, tree hash and signature", cmdInfo})
	register(command{"cat", "NAME|KEY [--start N] [--end N] [--json]", "print a core's blocks", cmdCat})
	register(command{"cores", "[--json]", "list the cores in the repo", cmdCores})
	register(command{"verify", "NAME|KEY [--json]", "check every stored block against the signed tree", cmdVerify})
}

func repoPath(f *flags) string {
	if f.repo != nil && *f.repo != "" {
		return *f.repo
	}
	return peer.DefaultRepoPath()
}

func openRepo(ctx context.Context, e *env, f *flags, opts ...peer.RepoOption) (*peer.Repo, error) {
	return peer.OpenRepo(ctx, repoPath(f), append([]peer.RepoOption{peer.WithRepoLogger(e.log)}, opts...)...)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
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
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("create takes one NAME")
	}
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.Store.Create(ctx, pos[0])
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]string{"name": pos[0], "key": c.Key().String(), "discoveryKey": c.DiscoveryKey().String()})
	}
	fmt.Fprintln(e.stdout, c.Key())
	return nil
}

// stdinBatch is how many --stdin lines are appended per atomic append.
const stdinBatch = 1000

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
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	if !c.Writable() {
		return fmt.Errorf("core %s is a replica: only its owner can append", c.Key())
	}
	start := c.Length()
	var length uint64
	if *stdin {
		prog := newProgress(e.stderr, "appending")
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64*1024), 64<<20)
		line := 0
		flush := func() error {
			if len(blocks) == 0 {
				return nil
			}
			n, err := c.Append(ctx, blocks...)
			if err != nil {
				return err
			}
			length, blocks = n, blocks[:0]
			prog.update(fmt.Sprintf("%d blocks", n-start))
			return nil
		}
		for sc.Scan() {
			line++
			b, err := decode(sc.Text())
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			blocks = append(blocks, b)
			if len(blocks) == stdinBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read stdin at line %d: %w", line, err)
		}
		if err := flush(); err != nil {
			return err
		}
		prog.done()
		if length == 0 {
			length = c.Length()
		}
	} else if length, err = c.Append(ctx, blocks...); err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]any{"key": c.Key().String(), "length": length, "appended": length - start})
	}
	fmt.Fprintf(e.stdout, "appended %d blocks, length %d\n", length-start, length)
	return nil
}

// infoJSON is the --json form of info; the field names are part of the CLI's contract.
type infoJSON struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	Name         string `json:"name,omitempty"`
	Writable     bool   `json:"writable"`
	Length       uint64 `json:"length"`
	Contiguous   uint64 `json:"contiguousLength"`
	ByteLength   uint64 `json:"byteLength"`
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
	Signature    string `json:"signature"`
	Frozen       string `json:"frozen,omitempty"`
}

func toInfoJSON(c *corestore.Core) infoJSON {
	in := c.Info()
	return infoJSON{Key: in.Key.String(), DiscoveryKey: in.DiscoveryKey.String(), Name: in.Name, Writable: in.Writable,
		Length: in.Length, Contiguous: c.Contiguous(), ByteLength: in.ByteLength, Fork: in.Fork,
		TreeHash: in.TreeHash.String(), Signature: hex.EncodeToString(in.Signature), Frozen: in.Frozen}
}

func cmdInfo(ctx context.Context, e *env, args []string) error {
	f := newFlags("info", e).withRepo().withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("info takes one NAME|KEY")
	}
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	in := toInfoJSON(c)
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
	if in.Frozen != "" {
		fmt.Fprintf(w, "FROZEN        %s\n", in.Frozen)
	}
	return nil
}

func parseIndex(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("--%s must be a block index (a non-negative integer), got %q", name, s)
	}
	return v, nil
}

func cmdCat(ctx context.Context, e *env, args []string) error {
	f := newFlags("cat", e).withRepo().withJSON()
	startS := f.String("start", "0", "first block")
	endS := f.String("end", "", "end block, exclusive (default: the length)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cat takes one NAME|KEY")
	}
	start, err := parseIndex("start", *startS)
	if err != nil {
		return err
	}
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	end := c.Length()
	if *endS != "" {
		if end, err = parseIndex("end", *endS); err != nil {
			return err
		}
		if end > c.Length() {
			return fmt.Errorf("--end %d is past the core's length %d", end, c.Length())
		}
	}
	if start > end {
		return fmt.Errorf("--start %d is after --end %d", start, end)
	}
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	const chunk = 1024
	for lo := start; lo < end; lo += chunk {
		bs, err := c.GetRange(ctx, lo, min(lo+chunk, end))
		if err != nil {
			return err
		}
		for k, b := range bs {
			i := lo + uint64(k)
			if *f.json {
				rec := map[string]any{"index": i, "hex": hex.EncodeToString(b)}
				if utf8.Valid(b) {
					rec["text"] = string(b)
				}
				if err := printJSON(w, rec); err != nil {
					return err
				}
				continue
			}
			w.Write(b)
			w.WriteByte('\n')
		}
	}
	return nil
}

func cmdCores(ctx context.Context, e *env, args []string) error {
	f := newFlags("cores", e).withRepo().withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("cores takes no arguments")
	}
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	keys, err := r.Store.Keys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 && !*f.json {
		fmt.Fprintln(e.stdout, "no cores yet (create one with `datomspace create NAME`)")
		return nil
	}
	if !*f.json {
		fmt.Fprintf(e.stdout, "%-64s  %-8s  %10s  %s\n", "KEY", "MODE", "LENGTH", "NAME")
	}
	for _, k := range keys {
		c, err := r.Store.Get(ctx, k)
		if err != nil {
			return err
		}
		if *f.json {
			if err := printJSON(e.stdout, toInfoJSON(c)); err != nil {
				return err
			}
			continue
		}
		mode := "replica"
		if c.Writable() {
			mode = "writable"
		}
		fmt.Fprintf(e.stdout, "%-64s  %-8s  %10d  %s\n", k, mode, c.Length(), c.Name())
	}
	return nil
}

func cmdVerify(ctx context.Context, e *env, args []string) error {
	f := newFlags("verify", e).withRepo().withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("verify takes one NAME|KEY")
	}
	r, err := openRepo(ctx, e, f)
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := r.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	if err := c.Verify(ctx); err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]any{"key": c.Key().String(), "length": c.Length(), "ok": true})
	}
	fmt.Fprintf(e.stdout, "ok: %d blocks of %s verify against the signature\n", c.Length(), c.Key())
	return nil
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

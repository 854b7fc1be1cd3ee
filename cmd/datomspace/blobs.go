package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/datomspace/datomspace/peer"
)

func blobCommands() []command {
	return []command{
		{name: "add", usage: "FILE|- [--pin=false] [--json]",
			summary: "add a file (or standard input) as a blob and print its CID", run: cmdAdd,
			args: "  FILE   the file to add; - reads standard input\n\nThe CID is Kubo's `ipfs add --cid-version=1` CID for the same bytes. `datomspace get CID` fetches\nthe blob elsewhere, `datomspace cat CID` prints it."},
		{name: "pin", usage: "add CID... | rm CID... | ls [--json]",
			summary: "keep blobs through gc (add), let gc remove them (rm), list the pinned ones (ls)", run: cmdPin},
		{name: "gc", usage: "[--json]",
			summary: "remove the blobs that nothing keeps (not pinned, no datom or DWN record refers to them)", run: cmdGC},
	}
}

// throttle calls fn at most every 100 ms, and always for the last call (done).
type throttle struct {
	last time.Time
}

func (t *throttle) due() bool {
	if time.Since(t.last) < 100*time.Millisecond {
		return false
	}
	t.last = time.Now()
	return true
}

func cmdAdd(ctx context.Context, e *env, args []string) error {
	f := newFlags("add", e).withRepo().withJSON()
	pin := f.Bool("pin", true, "pin the blob, so that gc keeps it (--pin=false leaves it to gc unless a datom refers to it)")
	return f.withBackend(ctx, e, args, nargs(1, "add takes one FILE, or - for standard input"), func(b peer.Backend, pos []string) error {
		var in io.Reader = e.stdin
		name := "standard input"
		var total int64 = -1
		if pos[0] != "-" {
			fh, err := os.Open(pos[0])
			if err != nil {
				return err
			}
			defer fh.Close()
			st, err := fh.Stat()
			if err != nil {
				return err
			}
			if st.IsDir() {
				return fmt.Errorf("%s is a directory: add takes one file (blobs are files)", pos[0])
			}
			in, name, total = fh, pos[0], st.Size()
		}
		prog := newProgress(e.stderr, "add")
		var th throttle
		t0 := time.Now()
		var read uint64
		info, err := peer.AddBlob(ctx, b, bufio.NewReaderSize(in, 1<<20), peer.AddBlobOptions{Pin: *pin, OnProgress: func(n uint64) {
			read = n
			if th.due() {
				prog.update(byteProgress(n, total, time.Since(t0)))
			}
		}})
		prog.done()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w after %s of %s: nothing was added or pinned", peer.ErrInterrupted, mbText(read), name)
			}
			return err
		}
		if *f.json {
			return printJSON(e.stdout, info)
		}
		fmt.Fprintln(e.stdout, info.CID)
		if isTerminal(e.stderr) {
			note := ""
			if !info.Pinned {
				note = " (not pinned: gc removes it unless a datom refers to it)"
			}
			fmt.Fprintf(e.stderr, "added %s, %s%s\n", name, mbText(info.Size), note)
		}
		return nil
	})
}

// byteProgress says "12.0 of 52.4 MB, 40.1 MB/s".
func byteProgress(n uint64, total int64, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(n) / s / 1e6
	}
	if total >= 0 {
		return fmt.Sprintf("%.1f of %s, %.1f MB/s", float64(n)/1e6, mbText(uint64(total)), rate)
	}
	return fmt.Sprintf("%s, %.1f MB/s", mbText(n), rate)
}

// mbText says "512 bytes", "12.0 kB", "52.4 MB" or "1.2 GB".
func mbText(n uint64) string {
	switch {
	case n < 1000:
		return count(int(n), "byte")
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// blobGet is what `get` was told for a CID.
type blobGet struct {
	cid       string
	out       string
	peers     []string
	bootstrap []string
	timeout   time.Duration
	ephemeral bool
	pin       bool
}

// getBlob is `get CID`: fetch the blob into the repo (all of its providers at once, verified,
// resuming what an earlier get left), then write it to --out (as FILE.partial, renamed when
// whole) or standard output.
func getBlob(ctx context.Context, e *env, f *flags, g blobGet) error {
	var b peer.Backend = peer.EphemeralBackend(e.log)
	if !g.ephemeral {
		var err error
		if b, err = backend(ctx, e, f); err != nil {
			return err
		}
	}
	defer b.Close()
	prog := newProgress(e.stderr, "get")
	if g.out == "" && isTerminal(e.stdout) {
		prog.isTTY = false
	}
	var th throttle
	var last peer.BlobProgress
	res, err := peer.Stream(ctx, b, peer.OpBlobGet, peer.BlobGetRequest{CID: g.cid, Peers: g.peers, Bootstrap: g.bootstrap,
		Timeout: g.timeout, Pin: g.pin}, func(p peer.BlobProgress) error {
		last = p
		if th.due() {
			prog.update(blobProgressLine(p))
		}
		return nil
	})
	prog.done()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, peer.ErrInterrupted) {
			// Through a daemon the reply is cut off: say what the last progress said.
			err = fmt.Errorf("%w at %s of %s (%d blocks); the blocks that arrived are kept in the repo, and running the same command again resumes",
				peer.ErrInterrupted, mbText(last.Bytes), mbText(last.Need), last.Blocks)
		}
		return err
	}
	sink, err := newBlockSink(e, g.out)
	if err != nil {
		return err
	}
	_, err = peer.Stream(ctx, b, peer.OpBlobCat, peer.BlobCatRequest{CID: g.cid}, func(c peer.BlobChunk) error {
		_, err := sink.w.Write(c.Data)
		return err
	})
	if err != nil {
		if note := sink.abort(); note != "" {
			err = fmt.Errorf("%w (%s)", err, note)
		}
		return err
	}
	if err := sink.commit(); err != nil {
		return err
	}
	if g.out != "" && !*f.json {
		how := "fetched and verified"
		switch {
		case res.Source == peer.BlobSourceLocal:
			how = "held by this repo already"
		case res.Held > 0:
			how = fmt.Sprintf("%s held already, %s fetched and verified", mbText(res.Held), mbText(res.Fetched))
		}
		fmt.Fprintf(e.stderr, "wrote %s (%s) to %s\n", mbText(res.Blob.Size), how, g.out)
	}
	if *f.json && g.out != "" {
		return printJSON(e.stdout, res)
	}
	return nil
}

func blobProgressLine(p peer.BlobProgress) string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Bytes) / s / 1e6
	}
	need := "?"
	if p.Need > 0 {
		need = mbText(p.Need)
	}
	return fmt.Sprintf("%.1f of %s, %s, %.1f MB/s", float64(p.Bytes)/1e6, need, count(p.Providers, "peer"), rate)
}

// catBlob is `cat CID`: print a blob the repo holds.
func catBlob(ctx context.Context, e *env, f *flags, c string) error {
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	w := bufio.NewWriterSize(e.stdout, 1<<20)
	defer w.Flush()
	_, err = peer.Stream(ctx, b, peer.OpBlobCat, peer.BlobCatRequest{CID: c}, func(ch peer.BlobChunk) error {
		_, err := w.Write(ch.Data)
		return err
	})
	return err
}

func cmdPin(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || wantsHelp(args) {
		if len(args) == 0 {
			return usagef("pin takes add, rm or ls")
		}
		return showHelp(e)
	}
	sub, rest := args[0], args[1:]
	f := newFlags("pin "+sub, e).withRepo().withJSON()
	switch sub {
	case "add", "rm":
		op := peer.OpPin
		if sub == "rm" {
			op = peer.OpUnpin
		}
		return f.withBackend(ctx, e, rest, func(pos []string) error {
			if len(pos) == 0 {
				return usagef("pin %s takes one or more CIDs", sub)
			}
			return nil
		}, func(b peer.Backend, pos []string) error {
			for _, c := range pos {
				in, err := peer.Call(ctx, b, op, peer.BlobRequest{CID: c})
				if err != nil {
					return err
				}
				if *f.json {
					printJSON(e.stdout, in)
					continue
				}
				switch {
				case sub == "rm":
					fmt.Fprintf(e.stdout, "unpinned %s\n", in.CID)
				case in.Complete:
					fmt.Fprintf(e.stdout, "pinned %s (%s)\n", in.CID, mbText(in.Size))
				default:
					fmt.Fprintf(e.stdout, "pinned %s; the repo does not hold it yet: `datomspace get %s` fetches it\n", in.CID, in.CID)
				}
			}
			return nil
		})
	case "ls":
		return f.withBackend(ctx, e, rest, nargs(0, "pin ls takes no arguments"), func(b peer.Backend, pos []string) error {
			pins, err := peer.Call(ctx, b, peer.OpPins, peer.None{})
			if err != nil {
				return err
			}
			for _, p := range pins {
				if *f.json {
					printJSON(e.stdout, p)
					continue
				}
				held := mbText(p.Size)
				if !p.Complete {
					held = "not held yet"
				}
				fmt.Fprintf(e.stdout, "%s  %s\n", p.CID, held)
			}
			if len(pins) == 0 && !*f.json {
				fmt.Fprintln(e.stderr, "no pinned blobs")
			}
			return nil
		})
	}
	return usagef("unknown pin subcommand %q (want add, rm or ls)", sub)
}

func cmdGC(ctx context.Context, e *env, args []string) error {
	f := newFlags("gc", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "gc takes no arguments"), func(b peer.Backend, pos []string) error {
		res, err := peer.Call(ctx, b, peer.OpGC, peer.None{})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, res)
		}
		if res.Blocks == 0 {
			fmt.Fprintf(e.stdout, "nothing to remove: every blob is pinned or referred to (%s kept)\n", count(res.Kept, "block"))
			return nil
		}
		fmt.Fprintf(e.stdout, "removed %s (%s, %s); kept %s\n", count(len(res.Blobs), "blob"), count(res.Blocks, "block"), mbText(res.Bytes), count(res.Kept, "block"))
		for _, c := range res.Blobs {
			fmt.Fprintf(e.stdout, "  removed %s\n", c)
		}
		return nil
	})
}

// blobValueText renders a blob value's JSON form for a table, or reports that v is not one.
func blobValueText(v map[string]any) (string, bool) {
	c, ok := v["blob"].(string)
	if !ok {
		return "", false
	}
	size, _ := v["size"].(float64)
	what := "blob"
	if t, _ := v["type"].(string); t == "string" {
		what = "blob of text"
	}
	return fmt.Sprintf("%s %s (%s)", what, c, strings.TrimSpace(mbText(uint64(size)))), true
}

// flagSet reports whether flag name was given on the command line.
func flagSet(f *flags, name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/peer"
)

func cmdGet(ctx context.Context, e *env, args []string) error {
	f := newFlags("get", e).withRepo().withJSON()
	blockRange := rangeFlags(f, "end block, exclusive (default: the newest length)")
	live := f.Bool("live", false, "keep following the core and print new blocks as they arrive; a range past the end waits for its blocks")
	follow := f.Bool("follow", false, "keep a running daemon following the core afterwards, as datomspace follow does")
	timeout := f.Duration("timeout", 30*time.Second, "how long to keep looking for, and waiting for, a peer that holds the core")
	out := f.String("out", "", "write the blocks to `FILE` instead of standard output")
	ephemeral := f.Bool("ephemeral", false, "download into a temporary repo that is deleted afterwards")
	pin := f.Bool("pin", false, "for a blob (a CID): pin it, so that gc keeps it")
	var boot, peers stringList
	f.Var(&boot, "bootstrap", "DHT bootstrap peer, a full multiaddr with /p2p/ (repeatable)")
	f.Var(&peers, "peer", "peer to dial directly, besides the DHT (repeatable)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("get takes one KEY or CID")
	}
	// get takes no names: what starts as a CID does is one, mistyped or not, unless it is a core
	// key (64 hex characters can start with "baf").
	if _, kerr := corestore.ParseKey(pos[0]); kerr != nil && (peer.IsBlobCID(pos[0]) || strings.HasPrefix(pos[0], "baf") || strings.HasPrefix(pos[0], "Qm")) {
		for _, fl := range []string{"start", "end", "live", "follow"} {
			if flagSet(f, fl) {
				return usagef("--%s is for cores; a CID names a blob, which get fetches whole", fl)
			}
		}
		return getBlob(ctx, e, f, blobGet{cid: pos[0], out: *out, peers: peers, bootstrap: boot, timeout: *timeout, ephemeral: *ephemeral, pin: *pin})
	}
	start, end, err := blockRange()
	if err != nil {
		return err
	}
	if *timeout < 0 {
		return usagef("--timeout must not be negative, got %s", *timeout)
	}
	if _, err := peer.ParseCoreKey(pos[0]); err != nil {
		return fmt.Errorf("%q is not a valid key: %w", pos[0], err)
	}
	var b peer.Backend = peer.EphemeralBackend(e.log)
	if !*ephemeral {
		if b, err = backend(ctx, e, f); err != nil {
			return err
		}
	}
	defer b.Close()
	sink, err := newBlockSink(e, *out)
	if err != nil {
		return err
	}
	raw := blockPrinter(sink.w, *f.json)
	table := &datomTable{w: sink.w, json: *f.json}
	// Progress goes to a terminal on stderr, unless the blocks go to the same terminal.
	prog := newProgress(e.stderr, "get")
	if *out == "" && isTerminal(e.stdout) {
		prog.isTTY = false
	}
	var last peer.Progress
	req := peer.FetchRequest{Key: pos[0], Start: start, End: end, Live: *live, Timeout: *timeout,
		Bootstrap: boot, Peers: peers, Blocks: true, Follow: *follow}
	res, err := peer.Stream(ctx, b, peer.OpFetch, req, func(ev peer.FetchEvent) error {
		if p := ev.Progress; p != nil {
			last = *p
			prog.update(progressLine(*p))
		}
		if blk := ev.Block; blk != nil {
			if err := table.block(blk.Index, blk.Data, raw); err != nil {
				return err
			}
			if *live {
				return sink.w.Flush()
			}
		}
		return nil
	})
	prog.done()
	if *live && ctx.Err() != nil && !errors.Is(err, peer.ErrInterrupted) {
		err = nil // the user ended a live follow: what arrived was printed
	}
	switch {
	case errors.Is(err, peer.ErrEmptyCore):
		sink.abort()
		fmt.Fprintf(e.stderr, "core %s is empty (length 0): there are no blocks to print\n", pos[0])
		return nil
	case err != nil && ctx.Err() != nil && !errors.Is(err, peer.ErrInterrupted):
		// Through a daemon the reply is cut off: say what the last progress said.
		err = fmt.Errorf("%w at %d of %d blocks; what arrived is kept in the repo, and running the same command again resumes: %w",
			peer.ErrInterrupted, last.Blocks, last.Total, err)
	}
	if err != nil {
		if note := sink.abort(); note != "" {
			err = fmt.Errorf("%w (%s)", err, note)
		}
		return err
	}
	if err := sink.commit(); err != nil {
		return err
	}
	n := res.End - res.Start
	switch res.Source {
	case peer.SourceLocal:
		fmt.Fprintf(e.stderr, "note: no peer that holds the core answered within %s; this is the local copy (length %d), which may be stale\n", *timeout, res.Core.Length)
	case peer.SourceOwn:
		fmt.Fprintf(e.stderr, "note: this repo owns the core; this is its local copy (length %d)\n", res.Core.Length)
	}
	if *out != "" && !*f.json {
		fmt.Fprintf(e.stderr, "wrote %s of %s (verified) to %s\n", blockSpan(res.Start, res.End, n), res.Core.Key, *out)
	}
	return nil
}

// blockSpan says "block 4" or "blocks 0..1 (2 blocks)".
func blockSpan(start, end, n uint64) string {
	switch n {
	case 0:
		return "no blocks"
	case 1:
		return fmt.Sprintf("block %d", start)
	}
	return fmt.Sprintf("blocks %d..%d (%d blocks)", start, end-1, n)
}

func progressLine(p peer.Progress) string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Bytes) / s / 1e6
	}
	line := fmt.Sprintf("%d/%d blocks, %.1f MB, %s, %.1f MB/s", p.Blocks, p.Total, float64(p.Bytes)/1e6, count(p.Peers, "peer"), rate)
	if p.Done {
		line += ", syncing to disk"
	}
	return line
}

// blockSink is where `get` writes blocks: standard output, or a file written as FILE.partial and
// renamed into place only when the whole range arrived.
type blockSink struct {
	w       *bufio.Writer
	file    *os.File
	path    string
	partial string
}

func newBlockSink(e *env, path string) (*blockSink, error) {
	if path == "" {
		return &blockSink{w: bufio.NewWriter(e.stdout)}, nil
	}
	partial := path + ".partial"
	fh, err := os.Create(partial)
	if err != nil {
		return nil, err
	}
	return &blockSink{w: bufio.NewWriter(fh), file: fh, path: path, partial: partial}, nil
}

// commit flushes the blocks and puts the file in place.
func (s *blockSink) commit() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if s.file == nil {
		return nil
	}
	if err := s.file.Close(); err != nil {
		return err
	}
	return os.Rename(s.partial, s.path)
}

// abort flushes what was printed to standard output, or removes the partial file, and says so.
func (s *blockSink) abort() string {
	if s.file == nil {
		s.w.Flush()
		return ""
	}
	s.file.Close()
	os.Remove(s.partial)
	return fmt.Sprintf("%s was not written", s.path)
}

// isTerminal reports whether an input or output stream is a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

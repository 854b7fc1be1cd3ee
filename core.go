package datomspace

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/peer"
)

// CoreInfo describes a core as its server holds it.
type CoreInfo = peer.CoreInfo

// Corestore is a server's store of cores, as a client sees it: Get opens a session on one core.
type Corestore struct{ c *Client }

// CoreOptions say which core Corestore.Get opens, and how its blocks are encoded.
type CoreOptions struct {
	// Name is a writable core of this server, created on first use. Its key is derived from the
	// server's primary key and the name, as Corestore 7 derives it.
	Name string
	// Key is someone else's core (32 bytes): its replica here is created empty if needed, and
	// filled block by block as the session reads, from the peers that hold it (found through
	// the server's direct peers, its connected peers and the DHT).
	Key []byte
	// ValueEncoding is "binary" (the default), "utf-8" or "json"; see Binary, UTF8 and JSON.
	ValueEncoding string
}

// Get opens a session on the core opts names (by Name or by Key, exactly one of them). The
// session is the client's: the server keeps replication sessions open for a Key core until the
// session's Close or the client's.
func (s *Corestore) Get(ctx context.Context, opts CoreOptions) (*Core, error) {
	enc, encName, err := codecFor(opts.ValueEncoding)
	if err != nil {
		return nil, err
	}
	req := peer.OpenRequest{Session: s.c.session, Name: opts.Name}
	switch {
	case opts.Name != "" && opts.Key != nil:
		return nil, fmt.Errorf("%w: CoreOptions names a core by Name or by Key, not both", ErrBadRequest)
	case opts.Key != nil:
		if len(opts.Key) != 32 {
			return nil, fmt.Errorf("%w: a core key is 32 bytes, not %d", ErrBadKey, len(opts.Key))
		}
		req.Key = hex.EncodeToString(opts.Key)
	case opts.Name == "":
		return nil, fmt.Errorf("%w: CoreOptions needs a Name (a core of this server) or a Key", ErrBadRequest)
	}
	info, err := call(ctx, s.c, peer.OpCoreOpen, req)
	if err != nil {
		return nil, err
	}
	key, err := corestore.ParseKey(info.Key)
	if err != nil {
		return nil, err
	}
	dk := corestore.DiscoveryKey(key)
	return &Core{cl: s.c, enc: enc, encName: encName, key: key, dk: dk, ref: key.String(), info: info}, nil
}

// Core is a session on one core: reads and appends encoded with the session's value encoding.
// A Core is safe for concurrent use.
type Core struct {
	cl      *Client
	enc     codec
	encName string
	key, dk corestore.Key
	ref     string // the key in hex, as the API takes it

	mu     sync.Mutex
	info   CoreInfo // as of the last call
	closed bool
}

// Ready waits until the core exists here and its signed length is known: at once for a Name core,
// or a Key core whose replica already holds a signed tree; otherwise until the first peer's
// verified tree has arrived (it downloads no block). It waits for as long as ctx allows: if no
// peer holding the core is ever found, the error matches ErrNoProviders and ctx's error.
func (c *Core) Ready(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	info, err := call(ctx, c.cl, peer.OpCoreReady, peer.WaitRequest{Ref: c.ref, Timeout: serverTimeout(ctx)})
	if err != nil {
		return err
	}
	c.setInfo(info)
	return nil
}

// Key returns the core's public key, which readers give as CoreOptions.Key.
func (c *Core) Key() []byte { return append([]byte(nil), c.key[:]...) }

// DiscoveryKey returns the core's discovery key: what the DHT sees instead of the key.
func (c *Core) DiscoveryKey() []byte { return append([]byte(nil), c.dk[:]...) }

// Encoding returns the session's value encoding.
func (c *Core) Encoding() string { return c.encName }

// Writable reports whether the core is this server's own, so that Append works.
func (c *Core) Writable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Writable
}

// Length returns the core's signed length as of the session's last call (Ready, Append, Get,
// Info) or append event (Appends, a live Read). Info asks the server for the current one.
func (c *Core) Length() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Length
}

// Info asks the server for the core's current state.
func (c *Core) Info(ctx context.Context) (CoreInfo, error) {
	if err := c.check(); err != nil {
		return CoreInfo{}, err
	}
	info, err := call(ctx, c.cl, peer.OpInfo, peer.CoreRef{Ref: c.ref})
	if err != nil {
		return CoreInfo{}, err
	}
	c.setInfo(info)
	return info, nil
}

func (c *Core) setInfo(info CoreInfo) {
	c.mu.Lock()
	c.info = info
	c.mu.Unlock()
}

func (c *Core) setLength(n uint64) {
	c.mu.Lock()
	if n > c.info.Length {
		c.info.Length = n
	}
	c.mu.Unlock()
}

// Append encodes values with the session's encoding and appends them as consecutive blocks, all
// or none. It returns the core's new length. Only the server's own cores are writable; others
// fail with ErrReadOnly. One call carries at most about 48 MiB of blocks (ErrRequestTooLarge).
func (c *Core) Append(ctx context.Context, values ...any) (uint64, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	if len(values) == 0 {
		return c.Length(), nil
	}
	blocks := make([][]byte, len(values))
	for i, v := range values {
		b, err := c.enc.encode(v)
		if err != nil {
			return 0, fmt.Errorf("append value %d: %w", i, err)
		}
		blocks[i] = b
	}
	res, err := call(ctx, c.cl, peer.OpAppend, peer.AppendRequest{Ref: c.ref, Blocks: blocks})
	if err != nil {
		return 0, err
	}
	c.setLength(res.Length)
	return res.Length, nil
}

// Get waits for block i and decodes it into v: a *[]byte (or *string) for "binary" and
// "utf-8", any JSON target for "json". As Hypercore's get(i, {wait: true}), a block past the
// length waits for the append that makes it, and a block of a Key core that is not held here is
// downloaded from a peer that holds it, alone and verified against the owner's signature; the
// rest of the core is not. ctx bounds the wait.
func (c *Core) Get(ctx context.Context, i uint64, v any) error {
	b, err := c.GetBytes(ctx, i)
	if err != nil {
		return err
	}
	if err := c.enc.decode(b, v); err != nil {
		return fmt.Errorf("block %d: %w", i, err)
	}
	return nil
}

// GetBytes is Get without decoding: it returns block i as stored.
func (c *Core) GetBytes(ctx context.Context, i uint64) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	res, err := call(ctx, c.cl, peer.OpCoreGet, peer.GetRequest{Ref: c.ref, Index: i, Timeout: serverTimeout(ctx)})
	if err != nil {
		return nil, err
	}
	c.setLength(res.Length)
	return res.Data, nil
}

// ReadOptions select the blocks Read yields.
type ReadOptions struct {
	// Start is the first block.
	Start uint64
	// End is the block to stop before. 0 means the length when the read starts, or, when Live,
	// no end at all.
	End uint64
	// Live keeps reading past the length: every block appended later is yielded as it arrives,
	// until ctx ends (which ends the read without an error) or the loop breaks. Hypercore's
	// createReadStream({live: true}).
	Live bool
}

// Block is one block of a core, as Read yields it.
type Block struct {
	// Index is the block's position in the core.
	Index uint64
	// Data is the block as stored.
	Data []byte
	enc  codec
}

// Decode decodes the block with its session's encoding, as Core.Get does.
func (b Block) Decode(v any) error {
	if err := b.enc.decode(b.Data, v); err != nil {
		return fmt.Errorf("block %d: %w", b.Index, err)
	}
	return nil
}

// Read yields blocks in order, as Hypercore's createReadStream does: a Key core downloads just
// the blocks of the range, verified, as the read reaches them. A non-live read past the length
// fails at once with ErrOutOfRange. An error ends the sequence, as its last pair.
func (c *Core) Read(ctx context.Context, opts ReadOptions) iter.Seq2[Block, error] {
	return func(yield func(Block, error) bool) {
		if err := c.check(); err != nil {
			yield(Block{}, err)
			return
		}
		req := peer.ReadRequest{Ref: c.ref, Start: opts.Start, End: opts.End, Live: opts.Live}
		_, err := stream(ctx, c.cl, peer.OpCoreRead, req, func(b peer.Block) error {
			c.setLength(b.Index + 1)
			if !yield(Block{Index: b.Index, Data: b.Data, enc: c.enc}, nil) {
				return errStop
			}
			return nil
		})
		switch {
		case err == nil, errors.Is(err, errStop):
		case opts.Live && ctx.Err() != nil:
			// a live read ends when ctx does
		default:
			yield(Block{}, err)
		}
	}
}

// Appends yields the core's length each time it grows past the length the session knew when
// Appends was called (Length), whether by an append here or, for a Key core, by its owner's
// append arriving as a signed tree upgrade (Hypercore's on('append')); the blocks themselves are
// not downloaded. Appends in quick succession may be reported once, with the latest length. It
// runs until ctx ends (without an error) or the loop breaks.
func (c *Core) Appends(ctx context.Context) iter.Seq2[uint64, error] {
	from := c.Length()
	return func(yield func(uint64, error) bool) {
		if err := c.check(); err != nil {
			yield(0, err)
			return
		}
		last := from
		_, err := stream(ctx, c.cl, peer.OpCoreWatch, peer.CoreRef{Ref: c.ref}, func(ev peer.LengthEvent) error {
			c.setLength(ev.Length)
			if ev.Length <= last {
				last = ev.Length // a truncation: the next append grows it again
				return nil
			}
			last = ev.Length
			if !yield(ev.Length, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) && ctx.Err() == nil {
			yield(0, err)
		}
	}
}

// Close ends the session: the server lets go of the core (for a Key core, of the replication
// sessions it kept for it, once no other session holds it). Closing twice is harmless.
func (c *Core) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.cl.check() != nil {
		return nil // the client's Close let go of everything
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	_, err := call(ctx, c.cl, peer.OpCoreClose, peer.SessionCore{Session: c.cl.session, Ref: c.ref})
	return err
}

// serverTimeout is how long a server may wait on a call with ctx: a little less than ctx's
// deadline, so that its answer (ErrNoProviders, say) arrives before the client gives up.
func serverTimeout(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	left := time.Until(d)
	return max(left-left/10-50*time.Millisecond, time.Millisecond)
}

// check returns ErrClosed once the session or its client is closed.
func (c *Core) check() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("core %s: %w", c.key, ErrClosed)
	}
	return c.cl.check()
}

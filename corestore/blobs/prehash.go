package blobs

import (
	"errors"
	"io"
	"sync"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// prehash takes reading and leaf hashing off the importer's goroutine: a reader goroutine cuts
// the input into chunks a few ahead of the importer and hashes them on worker goroutines, and
// the importer's CID builder (preBuilder) finds each leaf's CID ready. It is boxo's size
// splitter (fixed chunks of ChunkSize) with the work done in parallel; the DAG is the same.
type prehash struct {
	in    io.Reader
	order chan *chunk // chunks in input order
	stop  chan struct{}
	wg    sync.WaitGroup
	err   error // the read error that ended the input, once order is closed

	mu    sync.Mutex
	ready map[*byte]chunkCID // leaves handed to the importer, waiting for their Sum
}

type chunk struct {
	data []byte
	c    cid.Cid
	err  error
	done chan struct{}
}

type chunkCID struct {
	n int
	c cid.Cid
}

// Read-ahead: chunks cut but not yet taken, and hashes computed at once.
const (
	chunksAhead = 8
	hashers     = 2
)

var leafBuilder = cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}

func newPrehash(in io.Reader) *prehash {
	p := &prehash{in: in, order: make(chan *chunk, chunksAhead), stop: make(chan struct{}), ready: map[*byte]chunkCID{}}
	p.wg.Add(1)
	go p.read()
	return p
}

func (p *prehash) read() {
	defer p.wg.Done()
	defer close(p.order)
	sem := make(chan struct{}, hashers)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		buf := make([]byte, ChunkSize)
		n, err := io.ReadFull(p.in, buf)
		if n > 0 {
			ch := &chunk{data: buf[:n:n], done: make(chan struct{})}
			select {
			case sem <- struct{}{}:
			case <-p.stop:
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				ch.c, ch.err = leafBuilder.Sum(ch.data)
				<-sem
				close(ch.done)
			}()
			select {
			case p.order <- ch:
			case <-p.stop:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				p.err = err
			}
			return
		}
	}
}

// NextBytes returns the next chunk, then io.EOF (boxo's chunker.Splitter).
func (p *prehash) NextBytes() ([]byte, error) {
	ch, ok := <-p.order
	if !ok {
		if p.err != nil {
			return nil, p.err
		}
		return nil, io.EOF
	}
	<-ch.done
	if ch.err != nil {
		return nil, ch.err
	}
	p.mu.Lock()
	p.ready[&ch.data[0]] = chunkCID{len(ch.data), ch.c}
	p.mu.Unlock()
	return ch.data, nil
}

// Reader returns the input.
func (p *prehash) Reader() io.Reader { return p.in }

// take returns the CID computed for the chunk data, if data is one.
func (p *prehash) take(data []byte) (cid.Cid, bool) {
	if len(data) == 0 {
		return cid.Undef, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.ready[&data[0]]
	if !ok || r.n != len(data) {
		return cid.Undef, false
	}
	delete(p.ready, &data[0])
	return r.c, true
}

// close stops the reader and waits for it and the hashers.
func (p *prehash) close() {
	close(p.stop)
	for range p.order {
	}
	p.wg.Wait()
}

// preBuilder is the importer's CID builder: raw leaves get the CID the hashers computed, every
// other block is hashed here. It is cidBuilder (CIDv1, sha2-256) otherwise.
type preBuilder struct {
	codec uint64
	p     *prehash
}

func (b preBuilder) Sum(data []byte) (cid.Cid, error) {
	if b.codec == cid.Raw {
		if c, ok := b.p.take(data); ok {
			return c, nil
		}
	}
	return cid.V1Builder{Codec: b.codec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
}

func (b preBuilder) GetCodec() uint64 { return b.codec }

func (b preBuilder) WithCodec(c uint64) cid.Builder { return preBuilder{codec: c, p: b.p} }

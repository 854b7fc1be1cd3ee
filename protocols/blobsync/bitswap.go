package blobsync

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
)

// startBitswap starts the fetch's bitswap worker, once: bitswap asks every connected peer, so
// one worker serves all the providers that do not speak the fast path.
func (f *fetch) startBitswap(ctx context.Context) {
	f.mu.Lock()
	if f.bsRunning {
		f.mu.Unlock()
		return
	}
	f.bsRunning = true
	f.mu.Unlock()
	id := f.newWorker()
	f.wg.Add(1)
	go f.runBitswap(ctx, id)
}

// bsBatch is one GetBlocks call in flight.
type bsBatch struct {
	keys   []string
	cancel context.CancelFunc
}

// runBitswap keeps up to cfg.bsWindow blocks wanted through one bitswap session. A batch whose
// blocks all arrived by other means is cancelled, so its wants leave bitswap's wantlist.
func (f *fetch) runBitswap(ctx context.Context, id int) {
	defer f.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := f.s.bs.NewSession(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	batches := map[int]*bsBatch{}
	outstanding, next := 0, 0
	var fatal error
	ended := make(chan struct{}, 1)
	for {
		mu.Lock()
		room, stop := f.cfg.bsWindow-outstanding, fatal != nil
		for _, b := range batches {
			if !f.anyWanted(b.keys) {
				b.cancel()
			}
		}
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		var changed <-chan struct{}
		wake := f.cfg.stealAfter
		if room > 0 {
			var ws []blobs.Want
			n := min(room, 64)
			ws, changed, wake = f.assign(id, n, uint64(n)*blobs.ChunkSize)
			if len(ws) > 0 {
				bctx, bcancel := context.WithCancel(ctx)
				b := &bsBatch{cancel: bcancel}
				for _, w := range ws {
					b.keys = append(b.keys, string(w.CID.Hash()))
				}
				mu.Lock()
				outstanding += len(ws)
				bid := next
				next++
				batches[bid] = b
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer bcancel()
					err := f.bitswapBatch(bctx, sess, id, ws)
					mu.Lock()
					outstanding -= len(ws)
					delete(batches, bid)
					if err != nil && fatal == nil && ctx.Err() == nil {
						fatal = err
					}
					mu.Unlock()
					select {
					case ended <- struct{}{}:
					default:
					}
				}()
				continue
			}
		}
		t := time.NewTimer(wake)
		select {
		case <-changed:
		case <-ended:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	cancel()
	wg.Wait()
	f.mu.Lock()
	f.bsRunning = false
	f.mu.Unlock()
	f.removeWorker(id, fatal)
}

// anyWanted reports whether any of keys is still wanted.
func (f *fetch) anyWanted(keys []string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		if _, ok := f.sched.items[k]; ok {
			return true
		}
	}
	return false
}

// bitswapBatch asks bitswap for ws and delivers what comes. The blocks not delivered when it
// ends (ctx cancelled) are given back.
func (f *fetch) bitswapBatch(ctx context.Context, sess exchange.Fetcher, id int, ws []blobs.Want) error {
	byKey := make(map[string]blobs.Want, len(ws))
	cs := make([]cid.Cid, 0, len(ws))
	for _, w := range ws {
		byKey[string(w.CID.Hash())] = w
		cs = append(cs, w.CID)
	}
	defer func() {
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		f.release(id, keys)
	}()
	ch, err := sess.GetBlocks(ctx, cs)
	if err != nil {
		return nil
	}
	for blk := range ch {
		k := string(blk.Cid().Hash())
		w, ok := byKey[k]
		if !ok {
			continue
		}
		delete(byKey, k)
		// Bitswap names a block by the hash of its bytes, so a mismatch cannot come this way;
		// the check is made all the same.
		if err := f.deliver(ctx, id, w, blk.RawData()); err != nil && !errors.Is(err, errBadBlock) {
			return err
		}
	}
	return nil
}

// release gives back blocks worker id will not deliver.
func (f *fetch) release(id int, keys []string) {
	if len(keys) == 0 {
		return
	}
	f.mu.Lock()
	f.sched.release(id, keys)
	f.notify()
	f.mu.Unlock()
}

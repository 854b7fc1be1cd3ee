package discovery

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Blobs are announced and looked up by their root CID itself, as Kubo announces them: the DHT
// keys provider records by multihash, so a CIDv0 and the CIDv1 of one DAG are one record.

// blobKey is the form a blob root is kept under.
func blobKey(root cid.Cid) cid.Cid { return cid.NewCidV1(root.Type(), root.Hash()) }

// AnnounceBlob tells the DHT that this peer holds the blob root, and keeps announcing it every
// reannounce interval while Run runs. The record stays local, and Run retries, when the DHT has
// no peer yet (IsLonely).
func (d *Discovery) AnnounceBlob(ctx context.Context, root cid.Cid) error {
	if !root.Defined() {
		return fmt.Errorf("announce blob: empty CID")
	}
	k := blobKey(root)
	d.mu.Lock()
	if d.blobs == nil {
		d.blobs = map[cid.Cid]time.Time{}
	}
	if _, ok := d.blobs[k]; !ok {
		d.blobs[k] = time.Time{}
	}
	d.mu.Unlock()
	return d.provideBlob(ctx, k)
}

func (d *Discovery) provideBlob(ctx context.Context, k cid.Cid) error {
	if err := d.dht.Provide(ctx, k, true); err != nil {
		return fmt.Errorf("announce blob %s: %w", k, err)
	}
	d.mu.Lock()
	if _, ok := d.blobs[k]; ok {
		d.blobs[k] = time.Now()
	}
	d.mu.Unlock()
	return nil
}

// UnannounceBlob stops announcing root (after a GC removed it). Records expire on their own.
func (d *Discovery) UnannounceBlob(root cid.Cid) {
	d.mu.Lock()
	delete(d.blobs, blobKey(root))
	d.mu.Unlock()
}

// AnnouncedBlobs returns every announced blob root (as CIDv1) with the time of its last
// successful announce (zero when none has succeeded yet).
func (d *Discovery) AnnouncedBlobs() map[cid.Cid]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[cid.Cid]time.Time, len(d.blobs))
	for k, v := range d.blobs {
		out[k] = v
	}
	return out
}

// FindBlobProviders streams up to max peers, other than this one, that announced root. It has
// the shape of blobsync.FindProviders once max is bound.
func (d *Discovery) FindBlobProviders(ctx context.Context, root cid.Cid, max int) <-chan peer.AddrInfo {
	return d.findProviders(ctx, blobKey(root), max)
}

// reannounceBlobs is Run's pass over the announced blobs.
func (d *Discovery) reannounceBlobs(ctx context.Context) {
	for k, last := range d.AnnouncedBlobs() {
		if ctx.Err() != nil {
			return
		}
		if !last.IsZero() && time.Since(last) < d.o.reannounce {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := d.provideBlob(actx, k); err != nil {
			d.o.log.Debug("blob announce not yet spread; will retry", "blob", k.String(), "err", err)
		}
		cancel()
	}
}

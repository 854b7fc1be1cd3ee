package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/doip"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// A node serves the replica repositories it holds (doip.go): watchReplicas finds them as their
// cores arrive, and mirror fetches their element bytes, checked against the replicated CIDs.

// watchReplicas serves every replica repository the store holds: a replica core whose block 0
// is a repository marker. It looks at each core once its block 0 is here, as cores appear and
// gain data (Store.Changed), and stops serving replicas that were deleted.
func (d *doipNode) watchReplicas(ctx context.Context) {
	st := d.n.Repo.Store
	seen := map[corestore.Key]bool{}
	waiting := map[corestore.Key]bool{}
	ready := make(chan corestore.Key)
	for {
		changed := st.Changed()
		keys, err := st.Keys(ctx)
		if err != nil && ctx.Err() == nil {
			d.n.o.log.Warn("doip: list cores", "err", err)
		}
		d.dropGone(keys)
		for k := range seen {
			if _, found := slices.BinarySearchFunc(keys, k, compareKeys); !found {
				delete(seen, k) // deleted: should it come back, it is looked at afresh
			}
		}
		for _, k := range keys {
			if seen[k] || waiting[k] {
				continue
			}
			c, err := st.Get(ctx, k)
			if err != nil {
				continue
			}
			if c.Writable() {
				seen[k] = true
				continue
			}
			if !c.Has(0) {
				waiting[k] = true
				d.n.goroutine(func(ctx context.Context) { waitBlock0(ctx, c, ready) })
				continue
			}
			seen[k] = true
			d.consider(ctx, c)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case k := <-ready:
			delete(waiting, k)
			if c, err := st.Get(ctx, k); err == nil && c.Has(0) {
				seen[k] = true
				d.consider(ctx, c)
			}
		}
	}
}

// waitBlock0 waits until c holds its block 0, then sends its key on ready.
func waitBlock0(ctx context.Context, c *corestore.Core, ready chan<- corestore.Key) {
	for !c.Has(0) {
		upd := c.Updated()
		if c.Has(0) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-upd:
		}
	}
	select {
	case ready <- c.Key():
	case <-ctx.Done():
	}
}

// consider serves the replica c if it is a repository.
func (d *doipNode) consider(ctx context.Context, c *corestore.Core) {
	b, err := c.Get(ctx, 0)
	if err != nil {
		return
	}
	prefix, ok := repoMarker(b)
	if !ok {
		return
	}
	// The prefix now may be a later one than block 0's.
	if err := d.n.DB.CatchUpCore(ctx, c.Key()); err == nil {
		if e, err := d.n.DB.Pull(ctx, c.Key(), doipRepoEntity); err == nil {
			if vs := e.Attrs[attrRepoPrefix]; len(vs) == 1 && vs[0].Str != "" {
				prefix = vs[0].Str
			}
		}
	}
	if err := d.addReplica(ctx, c, prefix); err != nil {
		d.n.o.log.Warn("doip: not serving a replica repository", "core", c.Key().String(), "prefix", prefix, "err", err)
	}
}

// addReplica serves the replica repository c, read-only, under prefix.
func (d *doipNode) addReplica(ctx context.Context, c *corestore.Core, prefix string) error {
	if err := CheckDOIPPrefix(prefix); err != nil {
		return err
	}
	if prefix == d.prefix {
		return fmt.Errorf("its prefix is this node's own")
	}
	repo, err := doip.NewRepository(d.n.DB, c.Key(), d.blobs, doip.WithPrefix(prefix), doip.WithRepoLogger(d.n.o.log))
	if err != nil {
		return err
	}
	svc, err := d.newService(repo, doip.WithServiceID(prefix+"/service"))
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if other, taken := d.byPrefix[prefix]; taken {
		svc.Close()
		return fmt.Errorf("replica %s serves that prefix already", other.core.Key())
	}
	mctx, stop := context.WithCancel(d.n.ctx)
	r := &replicaRepo{prefix: prefix, core: c, svc: svc, stop: stop}
	d.replicas[c.Key()], d.byPrefix[prefix] = r, r
	d.notify()
	d.n.goroutine(func(context.Context) { d.mirror(mctx, r) })
	d.n.o.log.Info("doip: serving a replica repository", "prefix", prefix, "core", c.Key().String())
	return nil
}

// dropGone stops serving the replicas whose cores are no longer in keys.
func (d *doipNode) dropGone(keys []corestore.Key) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, r := range d.replicas {
		if _, found := slices.BinarySearchFunc(keys, k, compareKeys); found {
			continue
		}
		r.stop()
		r.svc.Close()
		delete(d.replicas, k)
		delete(d.byPrefix, r.prefix)
		d.notify()
	}
}

func compareKeys(a, b corestore.Key) int { return slices.Compare(a[:], b[:]) }

// missingElement is an element whose bytes a replica does not hold yet.
type missingElement struct {
	object, element string
	cid             string
	length          int64
}

// elementsQuery lists every current element of a repository with its CID and length.
const elementsQuery = `{"find":["?id","?el","?cid","?len"],"where":[["?o","doip/id","?id"],["?o","doip/element","?e"],` +
	`["?e","doip.element/id","?el"],["?e","doip.element/cid","?cid"],["?e","doip.element/length","?len"]],"cores":["%s"]}`

// missing lists the elements of r whose bytes the blob store lacks, skipping the CIDs in have
// (and adding those it finds held).
func (d *doipNode) missing(ctx context.Context, r *replicaRepo, have map[string]bool) ([]missingElement, error) {
	if err := d.n.DB.CatchUpCore(ctx, r.core.Key()); err != nil {
		return nil, err
	}
	res, err := d.n.DB.QueryJSON(ctx, fmt.Appendf(nil, elementsQuery, r.core.Key()))
	if err != nil {
		return nil, err
	}
	var out []missingElement
	for _, row := range res.Rows {
		m := missingElement{object: row.Values[0].Str, element: row.Values[1].Str, cid: row.Values[2].Str, length: row.Values[3].Int}
		if have[m.cid] {
			continue
		}
		c, err := cid.Decode(m.cid)
		if err != nil {
			continue // a malformed CID names no bytes to fetch
		}
		if rc, _, err := d.blobs.Open(ctx, c); err == nil {
			rc.Close()
			have[m.cid] = true
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// mirror fetches the bytes of a replica repository's elements as its datoms arrive, from the
// services that announce its prefix, until ctx ends. What is still missing is retried every
// 15 s while the replica gets no new data.
func (d *doipNode) mirror(ctx context.Context, r *replicaRepo) {
	have := map[string]bool{}
	for {
		upd := r.core.Updated()
		missing, err := d.missing(ctx, r, have)
		if err != nil && ctx.Err() == nil {
			d.n.o.log.Debug("doip: list a replica's elements", "prefix", r.prefix, "err", err)
		}
		if len(missing) > 0 {
			missing = d.fetchElements(ctx, r, missing, have)
		}
		var retry <-chan time.Time
		if len(missing) > 0 || err != nil {
			retry = time.After(15 * time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-upd:
		case <-retry:
		}
	}
}

// fetchElements retrieves missing element bytes from the services of r's prefix and keeps
// those whose CID is the one the datoms name. It returns what is still missing.
func (d *doipNode) fetchElements(ctx context.Context, r *replicaRepo, missing []missingElement, have map[string]bool) []missingElement {
	urls, _ := d.Resolve(ctx, r.prefix+"/")
	for _, u := range urls {
		if len(missing) == 0 {
			break
		}
		conn, err := d.n.dialDOIP(ctx, u)
		if err != nil {
			continue
		}
		c, err := doip.NewClient(conn, doip.WithTarget(r.prefix+"/service"))
		if err != nil {
			continue
		}
		var left []missingElement
		for _, m := range missing {
			if have[m.cid] {
				continue
			}
			if err := d.fetchElement(ctx, c, m); err != nil {
				d.n.o.log.Debug("doip: fetch an element for a replica", "object", m.object, "element", m.element, "from", u, "err", err)
				left = append(left, m)
				if errors.Is(err, doip.ErrClientClosed) {
					break
				}
				continue
			}
			have[m.cid] = true
		}
		c.Close()
		missing = left
	}
	return missing
}

// checkBytes checks that the bytes in f, whose SHA-256 is sum, are the blob want: by the store's
// own CIDOf when it has one, else for a raw SHA-256 CID by sum.
func checkBytes(ctx context.Context, store doip.BlobStore, f *os.File, sum []byte, want cid.Cid) error {
	if cs, ok := store.(interface {
		CIDOf(context.Context, io.Reader) (cid.Cid, error)
	}); ok {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		got, err := cs.CIDOf(ctx, f)
		if err != nil {
			return err
		}
		if !got.Equals(want) {
			return fmt.Errorf("the bytes sent have CID %s, not the replicated %s", got, want)
		}
		return nil
	}
	if p := want.Prefix(); p.Codec == cid.Raw && p.MhType == mh.SHA2_256 {
		dm, err := mh.Decode(want.Hash())
		if err != nil || !bytes.Equal(dm.Digest, sum) {
			return fmt.Errorf("the bytes sent do not hash to the replicated CID %s", want)
		}
	}
	return nil
}

// fetchElement retrieves one element's bytes into a scratch file, checks them against the
// replicated CID when it is a raw SHA-256 CID (the file store's), and only then puts them in the
// blob store: a peer that sends other bytes leaves nothing behind.
func (d *doipNode) fetchElement(ctx context.Context, c *doip.Client, m missingElement) error {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rc, err := c.RetrieveElement(fctx, m.object, m.element)
	if err != nil {
		return err
	}
	defer rc.Close()
	dir := filepath.Join(d.n.Repo.Path, doipIncomingDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "element-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(rc, m.length+1))
	if err != nil {
		return err
	}
	if n != m.length {
		return fmt.Errorf("%d bytes sent for an element of %d", n, m.length)
	}
	want, err := cid.Decode(m.cid)
	if err != nil {
		return err
	}
	if err := checkBytes(fctx, d.blobs, tmp, h.Sum(nil), want); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	got, _, err := d.blobs.Put(fctx, tmp)
	if err != nil {
		return err
	}
	if !got.Equals(want) {
		return fmt.Errorf("the bytes sent have CID %s, not the replicated %s", got, m.cid)
	}
	return nil
}

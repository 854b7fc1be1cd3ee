package asset

import (
	"context"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// ReleaseKey answers a key request from remote for core: it checks remote's grant (Decide with
// Release), that this peer holds the core's block key, and that it may release it (it is the
// owner, or it holds a grant of the asset that allows ActGrant: the owner delegated release to
// it), then seals the key to remote and appends the release to this peer's ledger.
func ReleaseKey(ctx context.Context, reg *Registry, self *Owner, core *corestore.Core, remote Principal, req *KeyRequest) (*KeyRelease, error) {
	var chains []Chain
	if len(req.Credential) > 0 {
		var err error
		if chains, err = DecodeCredential(req.Credential); err != nil {
			return nil, err
		}
	}
	d := reg.Decide(ctx, Request{Core: core, Remote: remote, Chains: chains, Purpose: Release})
	if d.Err != nil {
		return nil, d.Err
	}
	bk, ok := core.BlockKey()
	if !ok {
		return nil, fmt.Errorf("%w: core %s", ErrKeyNotHeld, core.Key())
	}
	if self.Principal() != d.Asset.Owner {
		custody := reg.Decide(ctx, Request{Core: core, Remote: self.Principal(), Purpose: Release})
		if custody.Err != nil || custody.Chain == nil || !custody.Chain.Leaf().Actions.Has(ActGrant) {
			return nil, fmt.Errorf("%w: this peer holds the key of core %s but the owner has not delegated its release here", ErrKeyNotHeld, core.Key())
		}
	}
	rel, err := SealKey(core.Key(), bk, remote, d.Chain.Leaf().ID, reg.now())
	if err != nil {
		return nil, err
	}
	if err := self.RecordRelease(ctx, rel); err != nil {
		return nil, fmt.Errorf("record the key release in the ledger: %w", err)
	}
	return rel, nil
}

// RecordRelease appends a key release to the owner's ledger: the proof that it was delivered.
func (o *Owner) RecordRelease(ctx context.Context, rel *KeyRelease) error {
	_, _, led, err := o.Cores(ctx)
	if err != nil {
		return err
	}
	b := rel.Encode()
	h := blake2b.Sum256(b)
	e := releasePrefix + hex.EncodeToString(h[:16])
	ds := []datom.Datom{
		datom.Add(e, AttrReleaseRecord, datom.Bytes(b)),
		datom.Add(e, AttrReleaseGrant, datom.String(rel.Grant.String())),
		datom.Add(e, AttrReleaseCore, datom.String(rel.Core.String())),
		datom.Add(e, AttrReleaseTo, datom.String(rel.Recipient.String())),
		datom.Add(e, AttrReleaseTime, datom.Time(rel.Time)),
	}
	return o.append(ctx, led, o.now(), ds)
}

// Releases returns the key releases the owner's ledger holds, oldest first.
func (o *Owner) Releases(ctx context.Context) ([]*KeyRelease, error) {
	_, _, led, err := o.Cores(ctx)
	if err != nil {
		return nil, err
	}
	var out []*KeyRelease
	for lo := uint64(0); lo < led.Length(); lo += 256 {
		bs, err := led.GetRange(ctx, lo, min(lo+256, led.Length()))
		if err != nil {
			return nil, err
		}
		for k, b := range bs {
			t, err := datom.DecodeTxAt(b, lo+uint64(k))
			if err != nil {
				continue
			}
			for _, d := range t.Datoms {
				if d.A == AttrReleaseRecord && d.V.Kind == datom.KindBytes {
					if r, err := DecodeKeyRelease(d.V.Bytes); err == nil {
						out = append(out, r)
					}
				}
			}
		}
	}
	return out, nil
}

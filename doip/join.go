package doip

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/datomspace/datomspace/datom"
)

// Joined is a service that joined this one with Op.Join: searches here are forwarded to it.
type Joined struct {
	ID  string    // its repoID
	URL string    // a DOIP URL or a libp2p multiaddr
	By  string    // the client id that joined it
	On  time.Time // when
}

func joinEntity(id string) string { return "join:" + id }

// Join records a joined service (replacing its URL if it joined before). Joins are datoms of
// the repository core, so they survive restarts and replicate.
func (r *Repository) Join(ctx context.Context, by Principal, repoID, url string) error {
	if repoID == "" {
		return fmt.Errorf("%w: missing repoID", ErrInvalid)
	}
	if err := checkName("repoID", repoID, MaxIDLen); err != nil {
		return err
	}
	if err := CheckURL(url); err != nil {
		return fmt.Errorf("%w: repoUrl: %w", ErrInvalid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	e := joinEntity(repoID)
	cur, err := r.db.Pull(ctx, r.key, e)
	if err != nil {
		return err
	}
	var ds []datom.Datom
	set := func(a string, v datom.Value) {
		if vs := cur.Attrs[a]; len(vs) == 0 || !vs[0].Equal(v) {
			ds = add(ds, e, a, v)
		}
	}
	set(attrJoinID, datom.String(repoID))
	set(attrJoinURL, datom.String(url))
	if by.ID != "" {
		set(attrJoinBy, datom.String(by.ID))
	}
	ds = add(ds, e, attrJoinOn, datom.Time(r.now().UTC()))
	_, err = r.transact(ctx, ds)
	return err
}

// Quit removes a joined service, or fails with ErrNotFound.
func (r *Repository) Quit(ctx context.Context, repoID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, err := r.db.Pull(ctx, r.key, joinEntity(repoID))
	if err != nil {
		return err
	}
	if len(cur.Attrs[attrJoinID]) == 0 {
		return fmt.Errorf("%w: %s has not joined", ErrNotFound, repoID)
	}
	_, err = r.transact(ctx, retractEntity(nil, cur))
	return err
}

// JoinedBy returns who joined repoID, or ErrNotFound.
func (r *Repository) joined(ctx context.Context, repoID string) (Joined, error) {
	cur, err := r.db.Pull(ctx, r.key, joinEntity(repoID))
	if err != nil {
		return Joined{}, err
	}
	if len(cur.Attrs[attrJoinID]) == 0 {
		return Joined{}, fmt.Errorf("%w: %s has not joined", ErrNotFound, repoID)
	}
	return Joined{ID: str1(cur, attrJoinID), URL: str1(cur, attrJoinURL), By: str1(cur, attrJoinBy), On: time1(cur, attrJoinOn)}, nil
}

// Joined lists the joined services, by id.
func (r *Repository) Joined(ctx context.Context) ([]Joined, error) {
	ents, err := (&executor{r: r, ctx: ctx}).run([]datom.Clause{clause(attrJoinID, varV)})
	if err != nil {
		return nil, err
	}
	out := make([]Joined, 0, len(ents))
	for _, e := range ents {
		j, err := r.joined(ctx, strings.TrimPrefix(e, "join:"))
		if err != nil {
			continue
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b Joined) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

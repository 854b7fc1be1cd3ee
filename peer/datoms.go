package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// DatomRow is one datom as the CLI and the API show it.
type DatomRow struct {
	E  string          `json:"e"`
	A  string          `json:"a"`
	V  json.RawMessage `json:"v"`
	Tx uint64          `json:"tx"`
	Op string          `json:"op"`
}

// TxResult is what a transaction appended.
type TxResult struct {
	Core    string            `json:"core"`
	Tx      uint64            `json:"tx"`
	Time    time.Time         `json:"time"`
	Datoms  []DatomRow        `json:"datoms"`
	TempIDs map[string]string `json:"tempids,omitempty"`
}

// PullResult is an entity: its attributes and their values.
type PullResult struct {
	Core  string                       `json:"core"`
	ID    string                       `json:"id"`
	Attrs map[string][]json.RawMessage `json:"attrs"`
}

// QueryResult is a query's answer; every row names its core. Notes explain an empty answer.
type QueryResult struct {
	Columns []string   `json:"columns"`
	Rows    []QueryRow `json:"rows"`
	Notes   []string   `json:"notes,omitempty"`
}

// QueryRow is one row of a QueryResult.
type QueryRow struct {
	Core   string            `json:"core"`
	Values []json.RawMessage `json:"values"`
}

// via converts between the datom package's types and these, through their JSON forms.
func via(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// DatomsOf returns the datoms of block i when it is a datom transaction.
func DatomsOf(i uint64, b []byte) ([]DatomRow, bool) {
	if !datom.IsTxBlock(b) {
		return nil, false
	}
	tx, err := datom.DecodeTxAt(b, i)
	if err != nil {
		return nil, false
	}
	var rows []DatomRow
	if via(tx.Datoms, &rows) != nil {
		return nil, false
	}
	return rows, true
}

// datoms runs the datom operations on an open store; both backends use it.
type datoms struct {
	repo *Repo
	db   *datom.DB
}

// writableRef resolves ref to a core key, creating the writable core when ref is a name the repo
// does not have yet: a transaction to a new database creates it.
func (d datoms) writableRef(ctx context.Context, ref string) (corestore.Key, error) {
	c, err := d.repo.Resolve(ctx, ref)
	if errors.Is(err, corestore.ErrNotFound) {
		if _, kerr := corestore.ParseKey(ref); kerr != nil {
			c, err = d.repo.Store.Create(ctx, ref)
		}
	}
	if err != nil {
		return corestore.Key{}, err
	}
	if !c.Writable() {
		return corestore.Key{}, fmt.Errorf("core %s is a replica: only its owner can transact", c.Key())
	}
	return c.Key(), nil
}

func (d datoms) transact(ctx context.Context, ref string, txJSON []byte) (TxResult, error) {
	key, err := d.writableRef(ctx, ref)
	if err != nil {
		return TxResult{}, err
	}
	rep, err := d.db.TransactJSON(ctx, key, txJSON)
	if err != nil {
		return TxResult{}, err
	}
	res := TxResult{Core: rep.Core.String(), Tx: rep.Tx, Time: rep.Time, TempIDs: rep.TempIDs}
	return res, via(rep.Datoms, &res.Datoms)
}

// key resolves ref and brings its indexes up to the blocks the core holds, so that a read sees
// everything appended or downloaded before it.
func (d datoms) key(ctx context.Context, ref string) (corestore.Key, error) {
	c, err := d.repo.Resolve(ctx, ref)
	if err != nil {
		return corestore.Key{}, err
	}
	if err := d.db.CatchUpCore(ctx, c.Key()); err != nil {
		return corestore.Key{}, err
	}
	return c.Key(), nil
}

func (d datoms) pull(ctx context.Context, ref, e string, asOf *uint64) (PullResult, error) {
	key, err := d.key(ctx, ref)
	if err != nil {
		return PullResult{}, err
	}
	var opts []datom.ReadOption
	if asOf != nil {
		opts = append(opts, datom.AsOf(*asOf))
	}
	ent, err := d.db.Pull(ctx, key, e, opts...)
	if err != nil {
		return PullResult{}, err
	}
	var res PullResult
	return res, via(ent, &res)
}

func (d datoms) history(ctx context.Context, ref, e, a string) ([]DatomRow, error) {
	key, err := d.key(ctx, ref)
	if err != nil {
		return nil, err
	}
	h, err := d.db.History(ctx, key, e, a)
	if err != nil {
		return nil, err
	}
	rows := []DatomRow{}
	return rows, via(h, &rows)
}

func (d datoms) query(ctx context.Context, refs []string, q []byte) (QueryResult, error) {
	pq, err := datom.ParseQuery(q)
	if err != nil {
		return QueryResult{}, err
	}
	for _, r := range refs {
		k, err := d.key(ctx, r)
		if err != nil {
			return QueryResult{}, err
		}
		pq.Cores = append(pq.Cores, k)
	}
	if len(refs) == 0 {
		if err := d.db.CatchUp(ctx); err != nil {
			return QueryResult{}, err
		}
	}
	res, err := d.db.Query(ctx, pq)
	if err != nil {
		return QueryResult{}, err
	}
	out := QueryResult{Columns: res.Columns, Notes: res.Notes, Rows: []QueryRow{}}
	for _, r := range res.Rows {
		var qr QueryRow
		if err := via(r, &qr); err != nil {
			return QueryResult{}, err
		}
		out.Rows = append(out.Rows, qr)
	}
	return out, nil
}

func reindexedCore(c datom.CoreInfo) ReindexedCore {
	return ReindexedCore{Key: c.Key.String(), Datom: c.Datom, Raw: c.Raw, Indexed: c.Indexed, Length: c.Length, Skipped: c.Skipped}
}

// reindex rebuilds db's indexes, timing it.
func reindex(ctx context.Context, db *datom.DB, progress func(done, total int, core ReindexedCore)) (ReindexResult, error) {
	start := time.Now()
	var fn func(int, int, datom.CoreInfo)
	if progress != nil {
		fn = func(done, total int, c datom.CoreInfo) { progress(done, total, reindexedCore(c)) }
	}
	infos, err := db.Reindex(ctx, fn)
	res := ReindexResult{Cores: make([]ReindexedCore, 0, len(infos)), Seconds: time.Since(start).Seconds()}
	for _, c := range infos {
		res.Cores = append(res.Cores, reindexedCore(c))
	}
	return res, err
}

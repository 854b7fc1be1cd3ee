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

// datomRoutes are the operations on datom cores.
func datomRoutes() []route {
	return []route{OpTransact, OpPull, OpHistory, OpQuery, OpReindex, OpDump}
}

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

// TransactRequest is a transaction in JSON for the datom core Ref: the name of a writable core
// (created by its first transaction) or a key. Tx is the JSON text as the user wrote it, so that
// the datom package judges it the same way with a daemon and without.
type TransactRequest struct {
	Ref string `json:"ref"`
	Tx  string `json:"tx"`
}

// MaxTransactBody bounds one transaction request.
const MaxTransactBody = 64 << 20

// OpTransact appends a JSON transaction to a datom core.
var OpTransact = Op[TransactRequest, TxResult]{Name: "transact", MaxBody: MaxTransactBody,
	Run: func(ctx context.Context, l *Local, req TransactRequest) (TxResult, error) {
		db, err := l.DB(ctx)
		if err != nil {
			return TxResult{}, err
		}
		ds, err := datom.ParseTxJSON([]byte(req.Tx))
		if err != nil {
			return TxResult{}, err
		}
		key, created, err := writableRef(ctx, l, req.Ref, func() error {
			// Large values become blobs first, as Transact would keep them: ValidateNew bounds
			// the values kept inline.
			bds, release, err := db.PutBlobs(ctx, corestore.Key{}, ds)
			if err != nil {
				return err
			}
			defer release()                 // Transact holds them again
			_, err = datom.ValidateNew(bds) // a rejected first transaction creates no core
			return err
		})
		if err != nil {
			return TxResult{}, err
		}
		rep, err := db.Transact(ctx, key, ds)
		if err != nil {
			if created { // it passed ValidateNew, so this is rare: leave no empty core behind
				l.deleteCore(context.WithoutCancel(ctx), key)
			}
			return TxResult{}, err
		}
		res := TxResult{Core: rep.Core.String(), Tx: rep.Tx, Time: rep.Time, TempIDs: rep.TempIDs}
		return res, via(rep.Datoms, &res.Datoms)
	}}

// writableRef resolves ref to a core key, creating the writable core when ref is a name the repo
// does not have yet and check passes (created says so): a transaction to a new database creates
// it.
func writableRef(ctx context.Context, l *Local, ref string, check func() error) (key corestore.Key, created bool, err error) {
	r, err := l.Repo(ctx)
	if err != nil {
		return corestore.Key{}, false, err
	}
	c, err := r.Resolve(ctx, ref)
	if errors.Is(err, ErrNoSuchName) {
		if err := check(); err != nil {
			return corestore.Key{}, false, err
		}
		c, err = r.Store.Create(ctx, ref)
		created = err == nil
	}
	if err != nil {
		return corestore.Key{}, false, err
	}
	if !c.Writable() {
		return corestore.Key{}, false, fmt.Errorf("core %s: %w", c.Key(), corestore.ErrReadOnly)
	}
	return c.Key(), created && c.Length() == 0, nil
}

// datomKey resolves ref and brings its indexes up to the blocks the core holds, so that a read
// sees everything appended or downloaded before it.
func datomKey(ctx context.Context, l *Local, ref string) (*datom.DB, corestore.Key, error) {
	db, err := l.DB(ctx)
	if err != nil {
		return nil, corestore.Key{}, err
	}
	c, err := l.Core(ctx, ref)
	if err != nil {
		return nil, corestore.Key{}, err
	}
	if err := db.CatchUpCore(ctx, c.Key()); err != nil {
		return nil, corestore.Key{}, err
	}
	return db, c.Key(), nil
}

// PullRequest names an entity of a datom core, current or as of a tx. With Resolve, blob values
// come back as the values they stand for.
type PullRequest struct {
	Ref     string  `json:"ref"`
	E       string  `json:"e"`
	AsOf    *uint64 `json:"asOf,omitempty"`
	Resolve bool    `json:"resolve,omitempty"`
}

// OpPull returns an entity of a datom core. A large value shows as a blob value, its CID and
// size; with Resolve it is the value itself, its blob fetched first when the repo lacks it, from
// the core's peers and the blob's providers (see OpBlobGet), and at most MaxResolve bytes.
var OpPull = Op[PullRequest, PullResult]{Name: "pull", Run: func(ctx context.Context, l *Local, req PullRequest) (PullResult, error) {
	db, key, err := datomKey(ctx, l, req.Ref)
	if err != nil {
		return PullResult{}, err
	}
	var opts []datom.ReadOption
	if req.AsOf != nil {
		opts = append(opts, datom.AsOf(*req.AsOf))
	}
	ent, err := db.Pull(ctx, key, req.E, opts...)
	if err != nil {
		return PullResult{}, err
	}
	if req.Resolve {
		if err := l.resolveEntity(ctx, key, ent); err != nil {
			return PullResult{}, err
		}
	}
	var res PullResult
	return res, via(ent, &res)
}}

// HistoryRequest names an entity (and, when A is set, one attribute) of a datom core.
type HistoryRequest struct {
	Ref string `json:"ref"`
	E   string `json:"e"`
	A   string `json:"a,omitempty"`
}

// OpHistory returns every datom about an entity (and attribute) in tx order.
var OpHistory = Op[HistoryRequest, []DatomRow]{Name: "history", Run: func(ctx context.Context, l *Local, req HistoryRequest) ([]DatomRow, error) {
	db, key, err := datomKey(ctx, l, req.Ref)
	if err != nil {
		return nil, err
	}
	h, err := db.History(ctx, key, req.E, req.A)
	if err != nil {
		return nil, err
	}
	rows := []DatomRow{}
	return rows, via(h, &rows)
}}

// QueryRequest is a Datalog query, as the user wrote it, over the cores Cores (every datom core
// of the repo when empty).
type QueryRequest struct {
	Cores []string `json:"cores,omitempty"`
	Query string   `json:"query"`
}

// OpQuery runs a Datalog query.
var OpQuery = Op[QueryRequest, QueryResult]{Name: "query", Run: func(ctx context.Context, l *Local, req QueryRequest) (QueryResult, error) {
	pq, err := datom.ParseQuery([]byte(req.Query))
	if err != nil {
		return QueryResult{}, err
	}
	db, err := l.DB(ctx)
	if err != nil {
		return QueryResult{}, err
	}
	for _, r := range req.Cores {
		_, k, err := datomKey(ctx, l, r)
		if err != nil {
			return QueryResult{}, err
		}
		pq.Cores = append(pq.Cores, k)
	}
	if len(req.Cores) == 0 {
		if err := db.CatchUp(ctx); err != nil {
			return QueryResult{}, err
		}
	}
	res, err := db.Query(ctx, pq)
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
}}

// ReindexedCore is one core's index after a reindex.
type ReindexedCore struct {
	Key string `json:"key"`
	// Datom is set for a core of datom transactions, Raw for a core of other blocks, which is
	// not indexed; neither for an empty core.
	Datom bool `json:"datom"`
	Raw   bool `json:"raw"`
	// Indexed blocks of Length; Skipped counts malformed transactions left out.
	Indexed uint64 `json:"indexed"`
	Length  uint64 `json:"length"`
	Skipped uint64 `json:"skipped"`
}

// ReindexResult says what a reindex rebuilt.
type ReindexResult struct {
	Cores   []ReindexedCore `json:"cores"`
	Seconds float64         `json:"seconds"`
}

// ReindexProgress reports one more core reindexed.
type ReindexProgress struct {
	Done  int           `json:"done"`
	Total int           `json:"total"`
	Core  ReindexedCore `json:"core"`
}

func reindexedCore(c datom.CoreInfo) ReindexedCore {
	return ReindexedCore{Key: c.Key.String(), Datom: c.Datom, Raw: c.Raw, Indexed: c.Indexed, Length: c.Length, Skipped: c.Skipped}
}

// OpReindex rebuilds the datom indexes from the logs, reporting each core as it is done.
var OpReindex = StreamOp[None, ReindexProgress, ReindexResult]{Name: "reindex",
	Run: func(ctx context.Context, l *Local, _ None, emit func(ReindexProgress) error) (ReindexResult, error) {
		db, err := l.DB(ctx)
		if err != nil {
			return ReindexResult{}, err
		}
		start := time.Now()
		infos, err := db.Reindex(ctx, func(done, total int, c datom.CoreInfo) {
			emit(ReindexProgress{Done: done, Total: total, Core: reindexedCore(c)})
		})
		res := ReindexResult{Cores: make([]ReindexedCore, 0, len(infos)), Seconds: time.Since(start).Seconds()}
		for _, c := range infos {
			res.Cores = append(res.Cores, reindexedCore(c))
		}
		return res, err
	}}

// DumpRequest names a datom core to dump, current or as of a tx.
type DumpRequest struct {
	Ref  string  `json:"ref"`
	AsOf *uint64 `json:"asOf,omitempty"`
}

// OpDump streams every entity of a datom core that has a visible datom, in entity id order, each
// as an entity map ({"db/id": ..., attribute: value or [values]}) that a transaction reads back.
var OpDump = StreamOp[DumpRequest, json.RawMessage, None]{Name: "dump",
	Run: func(ctx context.Context, l *Local, req DumpRequest, emit func(json.RawMessage) error) (None, error) {
		db, key, err := datomKey(ctx, l, req.Ref)
		if err != nil {
			return None{}, err
		}
		sch, err := db.Schema(ctx, key)
		if err != nil {
			return None{}, err
		}
		var opts []datom.ReadOption
		if req.AsOf != nil {
			opts = append(opts, datom.AsOf(*req.AsOf))
		}
		for ent, err := range db.Entities(ctx, key, opts...) {
			if err != nil {
				return None{}, err
			}
			b, err := json.Marshal(ent.Map(sch))
			if err != nil {
				return None{}, err
			}
			if err := emit(b); err != nil {
				return None{}, err
			}
		}
		return None{}, nil
	}}

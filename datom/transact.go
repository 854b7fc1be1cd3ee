package datom

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	badger "github.com/dgraph-io/badger/v4"
)

// ErrRejected marks a transaction refused because it breaks the schema or is malformed; nothing
// was appended.
var ErrRejected = errors.New("transaction rejected")

// ErrNothingToRetract marks a transaction that retracts a value its entity does not have; it
// comes with ErrRejected.
var ErrNothingToRetract = errors.New("retraction of a value that is not there")

// ErrRawCore is returned for a write to a core that holds blocks other than datom transactions.
var ErrRawCore = errors.New("core does not hold datom transactions")

// TempIDPrefix starts a temporary entity id: every use of "_:name" in one transaction is the same
// new entity, or the existing entity that holds a unique-identity value the transaction asserts
// for it. A ref value may name a temporary id of the same transaction.
const TempIDPrefix = "_:"

// TxReport says what a transaction appended.
type TxReport struct {
	Core corestore.Key
	// Tx is the transaction's block index.
	Tx   uint64
	Time time.Time
	// Datoms are the datoms as appended: temporary ids resolved and values converted to their
	// attributes' types.
	Datoms []Datom
	// TempIDs maps each temporary id to the entity it became.
	TempIDs map[string]string
}

// Transact validates datoms against the schema of the writable core with key, appends them as one
// transaction and indexes it. Datom Tx fields are ignored. A transaction that breaks the schema is
// rejected whole with an error wrapping ErrRejected that names the offending datom, and nothing
// is appended.
//
// With WithBlobs, the string and bytes values over the blob threshold are stored as blobs first
// (PutBlobs), and the datoms hold blob values.
//
// Transact returns once the block is appended (durably, if the store is durable) and its index
// writes are handed to Badger; every read waits for them, so a read after Transact sees the
// transaction. Transactions on one core are serialized.
func (db *DB) Transact(ctx context.Context, key corestore.Key, datoms []Datom) (*TxReport, error) {
	ci, err := db.writableIndex(ctx, key)
	if err != nil {
		return nil, err
	}
	// Large values become blobs (WithBlobs), held from GC until the index commit that refers to
	// them is issued: BlobRoots waits for commits in flight.
	datoms, release, err := db.PutBlobs(ctx, key, datoms)
	if err != nil {
		return nil, err
	}
	defer release()
	ci.mu.Lock()
	defer ci.mu.Unlock()
	txn, out, temps, err := db.validateLocked(ctx, ci, datoms)
	if err != nil {
		return nil, err
	}
	sch := ci.sch.Load()
	now := db.now().UTC().Truncate(time.Millisecond)
	block, err := db.codec.encodeTx(Tx{Time: now, Datoms: out})
	if err != nil {
		return nil, fmt.Errorf("core %s tx %d: %w: %w", key, txn, ErrRejected, err)
	}
	for i := range out {
		out[i].Tx = txn
	}
	rep := &TxReport{Core: key, Tx: txn, Time: now, Datoms: out, TempIDs: temps}

	// The block is appended (and synced) while this goroutine builds its index writes against the
	// pipeline's snapshot and overlay. They are committed once the append succeeded as block
	// txn, and Badger applies that commit while the next transaction is validated; reads wait
	// for it.
	type appended struct {
		n   uint64
		err error
	}
	done := make(chan appended, 1)
	go func() {
		n, err := ci.core.Append(ctx, block)
		done <- appended{n, err}
	}()
	// The index writes are also handed to a Badger transaction before the append is known to
	// have succeeded; it is discarded if the append fails.
	w := &writer{db: db, cid: ci.pend.cid, sch: sch, snap: ci.snap, ov: ci.ov, ops: ci.ops}
	st := ci.pend
	st.next = txn + 1
	st.last = blockFingerprint(block)
	if txn == 0 {
		st.kind = kindDatom
	}
	var btx *badger.Txn
	ierr := w.applyTx(Tx{Time: now, Datoms: out}, txn)
	if ierr == nil {
		btx = db.bdb.NewTransaction(true)
		ierr = w.flush(btx, key, st)
	}
	r := <-done
	if r.err != nil {
		if btx != nil {
			btx.Discard()
		}
		// Drop what the overlay learnt from the transaction; nothing of it is committed.
		if err := db.quiesce(ctx, ci); err != nil {
			db.log.Warn("datom: reset index pipeline", "core", key, "err", err)
		}
		return nil, fmt.Errorf("core %s tx %d: append: %w", key, txn, r.err)
	}
	if ierr != nil || r.n != txn+1 {
		// Another writer appended too, or indexing failed: index from the log instead.
		if btx != nil {
			btx.Discard()
		}
		if ierr != nil {
			db.log.Warn("datom: index after transact; catching up from the log", "core", key, "tx", txn, "err", ierr)
		}
		rep.Tx = r.n - 1
		for i := range out {
			out[i].Tx = rep.Tx
		}
		if err := db.quiesce(ctx, ci); err != nil {
			return rep, fmt.Errorf("core %s tx %d was appended but not yet indexed: %w", key, rep.Tx, err)
		}
		if err := db.catchUpLocked(ctx, ci); err != nil {
			return rep, fmt.Errorf("core %s tx %d was appended but not yet indexed: %w", key, rep.Tx, err)
		}
		return rep, nil
	}
	ci.ops = w.ops // emptied by flush
	ch := make(chan struct{})
	ci.inflight.Store(&ch)
	committed := st
	btx.CommitWith(func(err error) {
		if err != nil {
			ci.asyncErr.Store(&err)
		} else {
			ci.state.Store(&committed)
		}
		close(ch)
	})
	ci.pend = st
	ci.sch.Store(w.sch)
	return rep, nil
}

// Validate checks datoms exactly as Transact would on the writable core with key, and returns
// the report Transact would give were nothing else transacted first, but appends nothing: its
// Tx is the number the transaction would get and its Time is zero. Its errors are Transact's.
func (db *DB) Validate(ctx context.Context, key corestore.Key, datoms []Datom) (*TxReport, error) {
	ci, err := db.writableIndex(ctx, key)
	if err != nil {
		return nil, err
	}
	datoms, _, err = db.blobify(ctx, key, datoms, false)
	if err != nil {
		return nil, err
	}
	ci.mu.Lock()
	defer ci.mu.Unlock()
	txn, out, temps, err := db.validateLocked(ctx, ci, datoms)
	if err != nil {
		return nil, err
	}
	if _, err := db.codec.encodeTx(Tx{Datoms: out}); err != nil {
		return nil, fmt.Errorf("core %s tx %d: %w: %w", key, txn, ErrRejected, err)
	}
	for i := range out {
		out[i].Tx = txn
	}
	return &TxReport{Core: key, Tx: txn, Datoms: out, TempIDs: temps}, nil
}

// ValidateNew checks datoms as Transact would check the first transaction of a new, empty
// core, whose only schema is the one the transaction itself installs, and returns the report it
// would give (Core and Time zero). It needs no core: a caller can refuse a transaction before
// creating the core it would start.
func ValidateNew(datoms []Datom) (*TxReport, error) {
	v := validator{sch: newSchema()}
	out, temps, err := v.validate(datoms)
	if err != nil {
		return nil, fmt.Errorf("new core tx 0: %w", err)
	}
	if _, err := defaultCodec.encodeTx(Tx{Datoms: out}); err != nil {
		return nil, fmt.Errorf("new core tx 0: %w: %w", ErrRejected, err)
	}
	return &TxReport{Datoms: out, TempIDs: temps}, nil
}

// writableIndex returns the index state of the writable core with key.
func (db *DB) writableIndex(ctx context.Context, key corestore.Key) (*coreIndex, error) {
	ci, err := db.coreIndex(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ci.core.Writable() {
		return nil, fmt.Errorf("transact on core %s: %w", key, corestore.ErrReadOnly)
	}
	return ci, nil
}

// validateLocked brings the core's index up to date and validates datoms against it, with the
// core's mu held. It returns the transaction's number and its datoms as they are to be appended.
func (db *DB) validateLocked(ctx context.Context, ci *coreIndex, datoms []Datom) (uint64, []Datom, map[string]string, error) {
	key := ci.key
	if err := db.catchUpLocked(ctx, ci); err != nil {
		return 0, nil, nil, fmt.Errorf("transact on core %s: %w", key, err)
	}
	if ci.pend.kind == kindRaw {
		return 0, nil, nil, fmt.Errorf("transact on core %s: %w", key, ErrRawCore)
	}
	txn := ci.core.Length()
	if ci.pend.next != txn {
		return 0, nil, nil, fmt.Errorf("transact on core %s: index is at tx %d of %d: blocks are missing locally", key, ci.pend.next, txn)
	}
	// A transaction that changes schema is validated against a fresh snapshot, with no commit in
	// flight, since schema checks scan the indexes.
	schemaTx := slices.ContainsFunc(datoms, func(d Datom) bool { return isSchemaAttr(d.A) })
	if err := db.pipeline(ctx, ci, schemaTx); err != nil {
		return 0, nil, nil, fmt.Errorf("transact on core %s: %w", key, err)
	}
	v := validator{r: ci.snap, ov: ci.ov, sch: ci.sch.Load(), tx: txn}
	out, temps, err := v.validate(datoms)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("core %s tx %d: %w", key, txn, err)
	}
	return txn, out, temps, nil
}

type validator struct {
	r   *reader  // nil: an empty database
	ov  *overlay // changes since r's snapshot, or nil
	sch *schema
	tx  uint64
}

// live returns the live values of (e, a), seen through the overlay.
func (v *validator) live(e, a string) ([]liveVal, error) {
	if v.ov != nil {
		if lv, ok := v.ov.live[e+"\x00"+a]; ok {
			return lv, nil
		}
		if v.ov.fresh[e] {
			return nil, nil
		}
	}
	if v.r == nil {
		return nil, nil
	}
	return v.r.live(e, a)
}

// uniqueOwner returns the entity that holds the live unique value (a, v), seen through the
// overlay.
func (v *validator) uniqueOwner(a string, vk []byte) (string, bool, error) {
	if v.ov != nil {
		if u, ok := v.ov.uniq[a+"\x00"+string(vk)]; ok {
			return u.e, !u.deleted, nil
		}
	}
	if v.r == nil {
		return "", false, nil
	}
	return v.r.uniqueOwner(a, vk)
}

func (v *validator) reject(i int, d Datom, format string, args ...any) error {
	return fmt.Errorf("%w: datom %d %s: %s", ErrRejected, i, opString(d), fmt.Sprintf(format, args...))
}

// opString renders a datom of a transaction as [add e a v] or [retract e a v].
func opString(d Datom) string {
	op := "add"
	if !d.Added {
		op = "retract"
	}
	return fmt.Sprintf("[%s %s %s %s]", op, d.E, d.A, d.V)
}

// validate checks a transaction and returns its datoms as they are to be appended: temporary ids
// resolved, values converted to their attributes' types and schema values in their canonical
// spelling. The transaction's schema datoms are applied first: its other datoms are checked
// against the schema as it is after them, so a transaction may install an attribute and use it.
func (v *validator) validate(in []Datom) ([]Datom, map[string]string, error) {
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("%w: empty transaction", ErrRejected)
	}
	if len(in) > MaxDatomsPerTx {
		return nil, nil, fmt.Errorf("%w: %d datoms exceeds %d per transaction", ErrRejected, len(in), MaxDatomsPerTx)
	}
	// Resolve temporary ids: first by the unique-identity values asserted for them. The schema
	// before the transaction decides which attributes are unique: one whose uniqueness changes in
	// the transaction has no values (the transaction is refused otherwise), so the schema after it
	// would resolve nothing either.
	temps := map[string]string{}
	for i, d := range in {
		if !strings.HasPrefix(d.E, TempIDPrefix) || !d.Added {
			continue
		}
		at, _ := v.sch.attr(d.A)
		if at.Unique != UniqueIdentity {
			continue
		}
		val, err := v.value(at, d, temps, false)
		if err != nil {
			return nil, nil, v.reject(i, d, "%v", err)
		}
		owner, ok, err := v.uniqueOwner(d.A, val.key(nil))
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if prev, ok := temps[d.E]; ok && prev != owner {
			return nil, nil, v.reject(i, d, "temporary id resolves to both %s and %s", prev, owner)
		}
		temps[d.E] = owner
	}
	n := 0
	for _, d := range in {
		if _, ok := temps[d.E]; !ok && strings.HasPrefix(d.E, TempIDPrefix) {
			temps[d.E] = fmt.Sprintf("e.%d.%d", v.tx, n)
			n++
		}
	}
	entity := func(e string) string {
		if t, ok := temps[e]; ok {
			return t
		}
		return e
	}

	// The schema after the transaction's schema datoms.
	out := make([]Datom, len(in))
	after, err := v.schemaAfter(in, out, entity)
	if err != nil {
		return nil, nil, err
	}
	sch := v.sch
	if len(after) > 0 {
		sch = v.sch.clone()
		for _, e := range slices.Sorted(maps.Keys(after)) {
			sch.set(e, *after[e])
		}
	}

	var vbuf []byte
	type uniqueUse struct {
		i     int
		owner string
	}
	// asserted and retracted catch a datom both asserted and retracted; a transaction without
	// retractions, the common case, needs neither.
	hasRetract := slices.ContainsFunc(in, func(d Datom) bool { return !d.Added })
	var (
		asserted  = map[string]bool{}
		retracted = map[string]bool{}
		one       = make(map[string]string, len(in))
		uniq      = map[string]string{}
		owners    []uniqueUse
	)
	for i, d := range in {
		e := entity(d.E)
		if err := checkID("entity", e); err != nil {
			return nil, nil, v.reject(i, d, "%v", err)
		}
		if !isSchemaAttr(d.A) {
			if err := checkAttrName(d.A); err != nil {
				return nil, nil, v.reject(i, d, "%v", err)
			}
		}
		at, _ := sch.attr(d.A)
		val := out[i].V // a schema datom's value, converted by schemaAfter
		if !isSchemaAttr(d.A) {
			if val, err = v.value(at, d, temps, true); err != nil {
				return nil, nil, v.reject(i, d, "%v", err)
			}
		}
		vbuf = val.key(vbuf[:0])
		vk := string(vbuf)
		var k string
		if hasRetract {
			k = e + "\x00" + d.A + "\x00" + vk
		}
		if d.Added {
			if hasRetract {
				if retracted[k] {
					return nil, nil, v.reject(i, d, "the transaction both asserts and retracts it")
				}
				asserted[k] = true
			}
			if at.Cardinality == CardinalityOne {
				ea := e + "\x00" + d.A
				if prev, ok := one[ea]; ok && prev != vk {
					return nil, nil, v.reject(i, d, "a second value for cardinality-one attribute %s of %s in one transaction", d.A, e)
				}
				one[ea] = vk
			}
			if at.Unique != UniqueNone {
				uk := d.A + "\x00" + vk
				if other, ok := uniq[uk]; ok && other != e {
					return nil, nil, v.reject(i, d, "unique value of %s also asserted for %s in this transaction", d.A, other)
				}
				uniq[uk] = e
				owner, ok, err := v.uniqueOwner(d.A, []byte(vk))
				if err != nil {
					return nil, nil, err
				}
				if ok && owner != e {
					owners = append(owners, uniqueUse{i, owner})
				}
			}
		} else {
			if asserted[k] {
				return nil, nil, v.reject(i, d, "the transaction both asserts and retracts it")
			}
			if !retracted[k] {
				lv, err := v.live(e, d.A)
				if err != nil {
					return nil, nil, err
				}
				if !slices.ContainsFunc(lv, func(l liveVal) bool { return string(l.vk) == vk }) {
					return nil, nil, fmt.Errorf("%w: datom %d %s: %w: %s has no %s %s", ErrRejected, i, opString(d), ErrNothingToRetract, e, d.A, val)
				}
			}
			retracted[k] = true
		}
		out[i] = Datom{E: e, A: d.A, V: val, Added: d.Added}
	}
	for _, u := range owners {
		d := out[u.i]
		if !retracted[u.owner+"\x00"+d.A+"\x00"+string(d.V.key(nil))] {
			return nil, nil, v.reject(u.i, in[u.i], "unique value of %s already belongs to entity %s", d.A, u.owner)
		}
	}
	if err := v.checkSchemaChanges(after); err != nil {
		return nil, nil, err
	}
	return out, temps, nil
}

// schemaAfter reads the transaction's schema datoms: it checks each, stores it in out with its
// entity resolved and its value in canonical spelling, and returns the schema values of every
// schema entity the transaction touches as they are after it.
func (v *validator) schemaAfter(in, out []Datom, entity func(string) string) (map[string]*schemaValues, error) {
	var after map[string]*schemaValues
	for i, d := range in {
		if !isSchemaAttr(d.A) {
			continue
		}
		e := entity(d.E)
		if err := checkID("entity", e); err != nil {
			return nil, v.reject(i, d, "%v", err)
		}
		val, err := v.value(builtin[d.A], d, nil, false)
		if err != nil {
			return nil, v.reject(i, d, "%v", err)
		}
		if d.Added {
			if err := checkSchemaDatom(d.A, val.Str); err != nil {
				return nil, v.reject(i, d, "%v", err)
			}
			if val.Str, err = canonicalSchemaValue(d.A, val.Str); err != nil {
				return nil, v.reject(i, d, "%v", err)
			}
		} else if val.Str, err = v.storedSpelling(e, d.A, val.Str); err != nil {
			return nil, err
		}
		out[i] = Datom{E: e, A: d.A, V: val, Added: d.Added}
		if after == nil {
			after = map[string]*schemaValues{}
		}
		sv, ok := after[e]
		if !ok {
			read, err := readSchemaValues(e, v.live)
			if err != nil {
				return nil, err
			}
			sv = &read
			after[e] = sv
		}
		p := sv.field(d.A)
		if d.Added {
			*p = val.Str
		} else if *p == val.Str {
			*p = ""
		}
	}
	return after, nil
}

// storedSpelling returns the live value of schema attribute a of e that means the same as s:
// a retraction of db/valueType "int64" retracts the "int" an earlier version stored. It returns
// s when no live value means the same.
func (v *validator) storedSpelling(e, a, s string) (string, error) {
	if a != AttrValueType && a != AttrCardinality && a != AttrUnique {
		return s, nil
	}
	want, err := canonicalSchemaValue(a, s)
	if err != nil {
		return s, nil
	}
	lv, err := v.live(e, a)
	if err != nil {
		return s, err
	}
	for _, l := range lv {
		x, _, err := decodeKeyValue(l.vk)
		if err != nil || x.Kind != KindString {
			continue
		}
		if c, err := canonicalSchemaValue(a, x.Str); err == nil && c == want {
			return x.Str, nil
		}
	}
	return s, nil
}

// value returns d's value converted to the attribute's type, with temporary ids in refs resolved.
func (v *validator) value(at Attribute, d Datom, temps map[string]string, resolveRefs bool) (Value, error) {
	val := d.V
	if at.Type != 0 {
		var err error
		if val, err = coerce(val, at.Type); err != nil {
			return val, fmt.Errorf("%s: %w", d.A, err)
		}
	}
	if resolveRefs && val.Kind == KindRef && strings.HasPrefix(val.Str, TempIDPrefix) {
		t, ok := temps[val.Str]
		if !ok {
			return val, fmt.Errorf("ref to temporary id %s that no datom of the transaction uses", val.Str)
		}
		val.Str = t
	}
	return val, val.check()
}

// checkSchemaDatom reports why an asserted schema value is not valid.
func checkSchemaDatom(a, val string) error {
	switch a {
	case AttrIdent:
		if isSchemaAttr(val) || strings.HasPrefix(val, "db/") {
			return fmt.Errorf("the db/ namespace is reserved")
		}
		return checkAttrName(val)
	case AttrValueType, AttrCardinality, AttrUnique:
		_, err := canonicalSchemaValue(a, val)
		return err
	}
	return nil
}

// checkSchemaChanges refuses changing the type, cardinality or uniqueness of an attribute that
// already has values, renaming one, or defining one twice; after holds the schema values of the
// touched schema entities after the transaction.
func (v *validator) checkSchemaChanges(after map[string]*schemaValues) error {
	for _, e := range slices.Sorted(maps.Keys(after)) {
		sv := after[e]
		oldIdent := v.sch.byEntity[e]
		if oldIdent != "" && sv.ident != oldIdent {
			return fmt.Errorf("%w: schema entity %s: renaming attribute %s is not supported", ErrRejected, e, oldIdent)
		}
		if sv.ident == "" {
			continue
		}
		if oldE, ok := v.sch.attrs[sv.ident]; ok && oldE.Entity != e {
			return fmt.Errorf("%w: schema of %s: attribute already defined by entity %s", ErrRejected, sv.ident, oldE.Entity)
		}
		old, _ := v.sch.attr(sv.ident)
		ns := newSchema()
		ns.set(e, *sv)
		now, _ := ns.attr(sv.ident)
		if old.Type == now.Type && old.Cardinality == now.Cardinality && old.Unique == now.Unique {
			continue
		}
		has, err := v.hasDatoms(sv.ident)
		if err != nil {
			return err
		}
		if has {
			return fmt.Errorf("%w: schema of %s: changing the type, cardinality or uniqueness of an attribute that has values is not supported", ErrRejected, sv.ident)
		}
	}
	return nil
}

// hasDatoms reports whether attribute a has a datom, live or retracted, before the transaction.
func (v *validator) hasDatoms(a string) (bool, error) {
	if v.r == nil {
		return false, nil
	}
	it := v.r.txn.NewIterator(badger.IteratorOptions{Prefix: appendKeyString(corePrefix(subAEVT, v.r.cid), a)})
	defer it.Close()
	it.Rewind()
	return it.Valid(), nil
}

package doip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
	"github.com/ipfs/go-cid"
)

// The attributes a repository's datoms use. A digital object is the entity "do:<id>"; each
// element the entity "el:<len(id)>:<id>:<element id>", its bytes a blob named by doip.element/cid;
// the search terms of an object live on the entity "ix:<id>", so that pulling an object does not
// read them; a joined service is the entity "join:<repoID>".
const (
	attrID            = "doip/id"
	attrType          = "doip/type"
	attrAttributes    = "doip/attributes"    // the attributes JSON, when it fits a datom value
	attrAttributesCID = "doip/attributesCid" // else the CID of a blob holding it
	attrElement       = "doip/element"       // ref, many
	attrVersion       = "doip/version"
	attrCreatedOn     = "doip/createdOn"
	attrCreatedBy     = "doip/createdBy"
	attrModifiedOn    = "doip/modifiedOn"
	attrModifiedBy    = "doip/modifiedBy"

	attrElID    = "doip.element/id"
	attrElType  = "doip.element/type"
	attrElLen   = "doip.element/length"
	attrElCID   = "doip.element/cid"
	attrElAttrs = "doip.element/attributes"
	attrElIndex = "doip.element/index"

	attrIxOf      = "doip.ix/of"
	attrIxWord    = "doip.ix/word"    // many: the words of every attribute value
	attrIxTerm    = "doip.ix/term"    // many: field "\x1f" word, field "\x1f" exact value
	attrIxPrivate = "doip.ix/private" // true for an object whose ACL has readers, none public
	attrIxReader  = "doip.ix/reader"  // many: its ACL's readers and writers

	attrJoinID  = "doip.join/id"
	attrJoinURL = "doip.join/url"
	attrJoinBy  = "doip.join/by"
	attrJoinOn  = "doip.join/on"
)

// schemaDatoms are the repository's schema, transacted on first write.
var schemaDatoms = func() []datom.Datom {
	type a struct{ ident, typ, card string }
	attrs := []a{
		{attrID, "string", "one"}, {attrType, "string", "one"}, {attrAttributes, "string", "one"},
		{attrAttributesCID, "string", "one"}, {attrElement, "ref", "many"}, {attrVersion, "int64", "one"},
		{attrCreatedOn, "time", "one"}, {attrCreatedBy, "string", "one"}, {attrModifiedOn, "time", "one"},
		{attrModifiedBy, "string", "one"},
		{attrElID, "string", "one"}, {attrElType, "string", "one"}, {attrElLen, "int64", "one"},
		{attrElCID, "string", "one"}, {attrElAttrs, "string", "one"}, {attrElIndex, "int64", "one"},
		{attrIxOf, "string", "one"}, {attrIxWord, "string", "many"}, {attrIxTerm, "string", "many"},
		{attrIxPrivate, "bool", "one"}, {attrIxReader, "string", "many"},
		{attrJoinID, "string", "one"}, {attrJoinURL, "string", "one"}, {attrJoinBy, "string", "one"},
		{attrJoinOn, "time", "one"},
	}
	var ds []datom.Datom
	for _, at := range attrs {
		e := "schema:" + at.ident
		ds = append(ds,
			datom.Datom{E: e, A: datom.AttrIdent, V: datom.String(at.ident), Added: true},
			datom.Datom{E: e, A: datom.AttrValueType, V: datom.String(at.typ), Added: true},
			datom.Datom{E: e, A: datom.AttrCardinality, V: datom.String(at.card), Added: true})
	}
	return ds
}()

func objEntity(id string) string { return "do:" + id }
func ixEntity(id string) string  { return "ix:" + id }
func elEntity(id, el string) string {
	return "el:" + strconv.Itoa(len(id)) + ":" + id + ":" + el
}

// maxInlineAttributes is the largest attributes JSON kept in a datom; a larger one is a blob.
const maxInlineAttributes = 30 << 10

// ErrReadOnly is returned for a write to a repository whose core this node does not own (a
// replica); it is answered with status 200.
var ErrReadOnly = fmt.Errorf("%w: this repository is a read-only replica", ErrDeclined)

// Repository keeps digital objects in one datom core: an object's type and attributes are
// datoms, its elements are blobs named by datoms. Updates are transactions and deletes are
// retractions, so every version of an object stays in the core's history and replicates with
// it. A repository over a replica of another node's core answers reads only.
type Repository struct {
	db     *datom.DB
	key    corestore.Key
	blobs  BlobStore
	prefix string
	now    func() time.Time
	log    *slog.Logger

	mu     sync.Mutex // serializes writes
	schema bool       // the schema is installed
}

// RepoOption configures a Repository.
type RepoOption func(*Repository) error

// WithPrefix sets the prefix of the ids the repository mints, PREFIX/SUFFIX (default "local").
func WithPrefix(p string) RepoOption {
	return func(r *Repository) error {
		if p == "" || strings.ContainsAny(p, "/ \t\n") || len(p) > 128 {
			return errors.New("prefix must be 1 to 128 bytes without slashes or spaces")
		}
		r.prefix = p
		return nil
	}
}

// WithRepoClock sets the clock that stamps createdOn and modifiedOn.
func WithRepoClock(now func() time.Time) RepoOption {
	return func(r *Repository) error { r.now = now; return nil }
}

// WithRepoLogger sets the logger.
func WithRepoLogger(l *slog.Logger) RepoOption {
	return func(r *Repository) error { r.log = l; return nil }
}

// NewRepository returns the repository kept in the datom core with key (create it with
// corestore.Store.Create, or open a replica), with element bytes in blobs.
func NewRepository(db *datom.DB, key corestore.Key, blobs BlobStore, opts ...RepoOption) (*Repository, error) {
	if db == nil || blobs == nil {
		return nil, errors.New("repository needs a datom database and a blob store")
	}
	r := &Repository{db: db, key: key, blobs: blobs, prefix: "local", now: time.Now, log: slog.Default()}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Key is the key of the repository's core.
func (r *Repository) Key() corestore.Key { return r.key }

// Prefix is the prefix of the ids the repository mints.
func (r *Repository) Prefix() string { return r.prefix }

// Blobs is the repository's blob store.
func (r *Repository) Blobs() BlobStore { return r.blobs }

// ensureSchema installs the schema on first write. Called with mu held.
func (r *Repository) ensureSchema(ctx context.Context) error {
	if r.schema {
		return nil
	}
	sch, err := r.db.Schema(ctx, r.key)
	if err != nil {
		return err
	}
	missing := false
	for i := 0; i < len(schemaDatoms); i += 3 {
		if _, ok := sch[schemaDatoms[i].V.Str]; !ok {
			missing = true
		}
	}
	if missing {
		if _, err := r.db.Transact(ctx, r.key, schemaDatoms); err != nil {
			if errors.Is(err, corestore.ErrReadOnly) {
				return ErrReadOnly
			}
			return fmt.Errorf("install the repository schema: %w", err)
		}
	}
	r.schema = true
	return nil
}

func (r *Repository) transact(ctx context.Context, ds []datom.Datom) (*datom.TxReport, error) {
	rep, err := r.db.Transact(ctx, r.key, ds)
	if errors.Is(err, corestore.ErrReadOnly) {
		return nil, ErrReadOnly
	}
	if errors.Is(err, datom.ErrRejected) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return rep, err
}

// ElementData names the bytes of one element, already stored in the blob store.
type ElementData struct {
	CID  cid.Cid
	Size int64
}

// stored is an object as its datoms hold it.
type stored struct {
	do       DigitalObject
	attrs    map[string]any
	ent      *datom.Entity
	els      map[string]*datom.Entity // by element id
	elOrder  []string
	version  int64
	created  time.Time
	createdB string
	modified time.Time
	modB     string
}

func str1(e *datom.Entity, a string) string {
	if vs := e.Attrs[a]; len(vs) > 0 {
		return vs[0].Str
	}
	return ""
}

func int1(e *datom.Entity, a string) int64 {
	if vs := e.Attrs[a]; len(vs) > 0 {
		return vs[0].Int
	}
	return 0
}

func time1(e *datom.Entity, a string) time.Time {
	if vs := e.Attrs[a]; len(vs) > 0 {
		return vs[0].Time
	}
	return time.Time{}
}

// load reads an object's datoms, or returns ErrNotFound.
func (r *Repository) load(ctx context.Context, id string) (*stored, error) {
	ent, err := r.db.Pull(ctx, r.key, objEntity(id))
	if err != nil {
		return nil, err
	}
	if len(ent.Attrs[attrID]) == 0 {
		return nil, fmt.Errorf("%w: no object %s", ErrNotFound, id)
	}
	s := &stored{ent: ent, els: map[string]*datom.Entity{}, version: int1(ent, attrVersion),
		created: time1(ent, attrCreatedOn), createdB: str1(ent, attrCreatedBy),
		modified: time1(ent, attrModifiedOn), modB: str1(ent, attrModifiedBy)}
	s.do.ID = id
	s.do.Type = str1(ent, attrType)
	raw := []byte(str1(ent, attrAttributes))
	if c := str1(ent, attrAttributesCID); c != "" {
		if raw, err = r.readBlobString(ctx, c, MaxAttributesLen); err != nil {
			return nil, fmt.Errorf("attributes of %s: %w", id, err)
		}
	}
	if len(raw) > 0 {
		s.do.Attributes = raw
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&s.attrs); err != nil {
			return nil, fmt.Errorf("attributes of %s in core %s: %w", id, r.key, err)
		}
	}
	type el struct {
		e   *datom.Entity
		idx int64
	}
	var els []el
	for _, ref := range ent.Attrs[attrElement] {
		ee, err := r.db.Pull(ctx, r.key, ref.Str)
		if err != nil {
			return nil, err
		}
		if len(ee.Attrs[attrElID]) == 0 {
			continue
		}
		els = append(els, el{ee, int1(ee, attrElIndex)})
	}
	slices.SortStableFunc(els, func(a, b el) int {
		if a.idx != b.idx {
			return int(a.idx - b.idx)
		}
		return strings.Compare(str1(a.e, attrElID), str1(b.e, attrElID))
	})
	for _, x := range els {
		eid := str1(x.e, attrElID)
		s.els[eid] = x.e
		s.elOrder = append(s.elOrder, eid)
		e := Element{ID: eid, Type: str1(x.e, attrElType), Length: int1(x.e, attrElLen)}
		if a := str1(x.e, attrElAttrs); a != "" {
			e.Attributes = json.RawMessage(a)
		}
		s.do.Elements = append(s.do.Elements, e)
	}
	return s, nil
}

func (r *Repository) readBlobString(ctx context.Context, c string, max int64) ([]byte, error) {
	id, err := cid.Decode(c)
	if err != nil {
		return nil, err
	}
	rc, _, err := r.blobs.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}

// withMetadata returns the object's attributes with Cordra's "metadata" member: createdOn,
// createdBy, modifiedOn, modifiedBy (milliseconds, client ids) and txnId, the core's tx that
// wrote this version.
func (r *Repository) withMetadata(ctx context.Context, s *stored) (json.RawMessage, error) {
	attrs := map[string]any{}
	for k, v := range s.attrs {
		attrs[k] = v
	}
	md := map[string]any{
		"createdOn":  s.created.UnixMilli(),
		"modifiedOn": s.modified.UnixMilli(),
	}
	if s.createdB != "" {
		md["createdBy"] = s.createdB
	}
	if s.modB != "" {
		md["modifiedBy"] = s.modB
	}
	hist, err := r.db.History(ctx, r.key, objEntity(s.do.ID), attrVersion)
	if err != nil {
		return nil, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Added {
			md["txnId"] = hist[i].Tx
			break
		}
	}
	attrs["metadata"] = md
	return marshalNoEscape(attrs)
}

// Get returns an object with its elements' descriptions (no bytes), and Cordra's metadata in
// its attributes, or an error wrapping ErrNotFound.
func (r *Repository) Get(ctx context.Context, id string) (*DigitalObject, error) {
	s, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.output(ctx, s)
}

func (r *Repository) output(ctx context.Context, s *stored) (*DigitalObject, error) {
	do := s.do
	var err error
	if do.Attributes, err = r.withMetadata(ctx, s); err != nil {
		return nil, err
	}
	if do.Elements == nil {
		do.Elements = []Element{}
	}
	return &do, nil
}

// aclOf returns the access list of an object.
func (r *Repository) aclOf(s *stored) ACL {
	acl, _ := aclOf(s.attrs)
	return acl
}

// OpenElement returns a reader of an element's bytes and its length.
func (r *Repository) OpenElement(ctx context.Context, id, elementID string) (io.ReadCloser, int64, error) {
	e, err := r.db.Pull(ctx, r.key, elEntity(id, elementID))
	if err != nil {
		return nil, 0, err
	}
	c := str1(e, attrElCID)
	if c == "" {
		if _, err := r.load(ctx, id); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%w: object %s has no element %q", ErrNotFound, id, elementID)
	}
	bc, err := cid.Decode(c)
	if err != nil {
		return nil, 0, fmt.Errorf("element %s of %s: %w", elementID, id, err)
	}
	rc, n, err := r.blobs.Open(ctx, bc)
	if err != nil {
		if errors.Is(err, ErrBlobNotFound) {
			return nil, 0, fmt.Errorf("%w: the bytes of element %q of %s are not held here", ErrNotFound, elementID, id)
		}
		return nil, 0, err
	}
	return rc, n, nil
}

// mintID returns a new id under the repository's prefix.
func (r *Repository) mintID() string {
	var b [10]byte
	rand.Read(b[:])
	return r.prefix + "/" + hex.EncodeToString(b[:])
}

func add(ds []datom.Datom, e, a string, v datom.Value) []datom.Datom {
	return append(ds, datom.Datom{E: e, A: a, V: v, Added: true})
}

func retract(ds []datom.Datom, e, a string, v datom.Value) []datom.Datom {
	return append(ds, datom.Datom{E: e, A: a, V: v, Added: false})
}

// attributesDatoms returns the datom holding an object's attributes, storing a large one as a
// blob.
func (r *Repository) attributesDatom(ctx context.Context, e string, attrs json.RawMessage) (string, datom.Value, error) {
	if len(attrs) <= maxInlineAttributes {
		return attrAttributes, datom.String(string(attrs)), nil
	}
	c, _, err := r.blobs.Put(ctx, bytes.NewReader(attrs))
	if err != nil {
		return "", datom.Value{}, fmt.Errorf("store attributes of %s: %w", e, err)
	}
	return attrAttributesCID, datom.String(c.String()), nil
}

// emptyBlob stores the empty blob, the bytes of an element created without any.
func (r *Repository) emptyBlob(ctx context.Context) (ElementData, error) {
	c, n, err := r.blobs.Put(ctx, bytes.NewReader(nil))
	return ElementData{CID: c, Size: n}, err
}

// Create stores a new object with the element bytes in data (by element id; an element
// without data is empty) and returns it as Get would. An object whose id is taken fails with
// ErrConflict; an empty id is minted under the prefix.
func (r *Repository) Create(ctx context.Context, by Principal, do *DigitalObject, data map[string]ElementData) (*DigitalObject, error) {
	if err := checkName("object id", do.ID, MaxIDLen); err != nil {
		return nil, err
	}
	for id := range data {
		if do.Element(id) == nil {
			return nil, fmt.Errorf("%w: no such element %s", ErrInvalid, id)
		}
	}
	attrs, m, err := canonicalObject("attributes", do.Attributes, MaxAttributesLen)
	if err != nil {
		return nil, err
	}
	delete(m, "metadata")
	if m != nil {
		if attrs, err = marshalNoEscape(m); err != nil {
			return nil, err
		}
	}
	acl, err := aclOf(m)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureSchema(ctx); err != nil {
		return nil, err
	}
	id := do.ID
	if id == "" {
		id = r.mintID()
	}
	if _, err := r.load(ctx, id); err == nil {
		return nil, fmt.Errorf("%w: object %s already exists", ErrConflict, id)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	now := r.now().UTC()
	e := objEntity(id)
	var ds []datom.Datom
	ds = add(ds, e, attrID, datom.String(id))
	ds = add(ds, e, attrType, datom.String(do.Type))
	if attrs != nil {
		a, v, err := r.attributesDatom(ctx, id, attrs)
		if err != nil {
			return nil, err
		}
		ds = add(ds, e, a, v)
	}
	ds = add(ds, e, attrVersion, datom.Int(1))
	ds = add(ds, e, attrCreatedOn, datom.Time(now))
	ds = add(ds, e, attrModifiedOn, datom.Time(now))
	if by.ID != "" {
		ds = add(ds, e, attrCreatedBy, datom.String(by.ID))
		ds = add(ds, e, attrModifiedBy, datom.String(by.ID))
	}
	for i, el := range do.Elements {
		d, ok := data[el.ID]
		if !ok {
			if d, err = r.emptyBlob(ctx); err != nil {
				return nil, err
			}
		}
		ds = r.elementDatoms(ds, id, el, i, d)
		ds = add(ds, e, attrElement, datom.Ref(elEntity(id, el.ID)))
	}
	words, terms := indexTerms(id, do.Type, m)
	ds = r.ixDatoms(ds, id, nil, words, terms, acl)
	if _, err := r.transact(ctx, ds); err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	return r.Get(ctx, id)
}

func (r *Repository) elementDatoms(ds []datom.Datom, id string, el Element, index int, d ElementData) []datom.Datom {
	ee := elEntity(id, el.ID)
	ds = add(ds, ee, attrElID, datom.String(el.ID))
	ds = add(ds, ee, attrElType, datom.String(el.Type))
	ds = add(ds, ee, attrElLen, datom.Int(d.Size))
	ds = add(ds, ee, attrElCID, datom.String(d.CID.String()))
	ds = add(ds, ee, attrElIndex, datom.Int(int64(index)))
	if len(el.Attributes) > 0 {
		ds = add(ds, ee, attrElAttrs, datom.String(string(el.Attributes)))
	}
	return ds
}

// ixDatoms adds the search datoms of an object, as a change from old (nil for a new object).
func (r *Repository) ixDatoms(ds []datom.Datom, id string, old *datom.Entity, words, terms []string, acl ACL) []datom.Datom {
	ix := ixEntity(id)
	if old == nil || len(old.Attrs[attrIxOf]) == 0 {
		ds = add(ds, ix, attrIxOf, datom.String(id))
	}
	diff := func(a string, want []string) {
		have := map[string]bool{}
		if old != nil {
			for _, v := range old.Attrs[a] {
				have[v.Str] = true
			}
		}
		wanted := map[string]bool{}
		for _, w := range want {
			wanted[w] = true
			if !have[w] {
				ds = add(ds, ix, a, datom.String(w))
			}
		}
		for _, h := range sortedKeys(have) {
			if !wanted[h] {
				ds = retract(ds, ix, a, datom.String(h))
			}
		}
	}
	diff(attrIxWord, words)
	diff(attrIxTerm, terms)
	readers := append(slices.Clone(acl.Readers), acl.Writers...)
	slices.Sort(readers)
	diff(attrIxReader, slices.Compact(readers))
	wasPrivate := old != nil && len(old.Attrs[attrIxPrivate]) > 0 && old.Attrs[attrIxPrivate][0].Bool
	switch {
	case !acl.Public() && !wasPrivate:
		ds = add(ds, ix, attrIxPrivate, datom.Bool(true))
	case acl.Public() && wasPrivate:
		ds = retract(ds, ix, attrIxPrivate, datom.Bool(true))
	}
	return ds
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Update changes an object: a non-empty type and present attributes replace the stored ones;
// each element listed is added or has its type and attributes replaced, and its bytes when data
// has them; elements not listed stay as they are; the elements in remove are deleted.
func (r *Repository) Update(ctx context.Context, by Principal, do *DigitalObject, data map[string]ElementData, remove []string) (*DigitalObject, error) {
	for id := range data {
		if do.Element(id) == nil {
			return nil, fmt.Errorf("%w: no such element %s", ErrInvalid, id)
		}
	}
	var m map[string]any
	var attrs json.RawMessage
	if len(do.Attributes) > 0 {
		var err error
		if attrs, m, err = canonicalObject("attributes", do.Attributes, MaxAttributesLen); err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		delete(m, "metadata")
		if attrs, err = marshalNoEscape(m); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureSchema(ctx); err != nil {
		return nil, err
	}
	s, err := r.load(ctx, do.ID)
	if err != nil {
		return nil, err
	}
	id := do.ID
	e := objEntity(id)
	var ds []datom.Datom
	typ := s.do.Type
	if do.Type != "" && do.Type != s.do.Type {
		typ = do.Type
		ds = add(ds, e, attrType, datom.String(typ))
	}
	if attrs == nil {
		m = s.attrs
	} else if !bytes.Equal(attrs, s.do.Attributes) {
		a, v, err := r.attributesDatom(ctx, id, attrs)
		if err != nil {
			return nil, err
		}
		for _, old := range []string{attrAttributes, attrAttributesCID} {
			if vs := s.ent.Attrs[old]; len(vs) > 0 && old != a {
				ds = retract(ds, e, old, vs[0])
			}
		}
		ds = add(ds, e, a, v)
	}
	acl, err := aclOf(m)
	if err != nil {
		return nil, err
	}
	for _, rm := range remove {
		ee, ok := s.els[rm]
		if !ok {
			return nil, fmt.Errorf("%w: object %s has no element %q to delete", ErrNotFound, id, rm)
		}
		if do.Element(rm) != nil {
			return nil, fmt.Errorf("%w: element %q both updated and deleted", ErrInvalid, rm)
		}
		ds = retractEntity(ds, ee)
		ds = retract(ds, e, attrElement, datom.Ref(ee.ID))
	}
	next := len(s.elOrder)
	for _, el := range do.Elements {
		ee, exists := s.els[el.ID]
		d, hasData := data[el.ID]
		if !exists {
			if !hasData {
				if d, err = r.emptyBlob(ctx); err != nil {
					return nil, err
				}
			}
			if len(s.els)-len(remove)+1 > MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrInvalid, MaxElements)
			}
			ds = r.elementDatoms(ds, id, el, next, d)
			ds = add(ds, e, attrElement, datom.Ref(elEntity(id, el.ID)))
			next++
			continue
		}
		eid := ee.ID
		set := func(a string, v datom.Value) {
			if vs := ee.Attrs[a]; len(vs) == 0 || !vs[0].Equal(v) {
				ds = add(ds, eid, a, v)
			}
		}
		set(attrElType, datom.String(el.Type))
		if len(el.Attributes) > 0 {
			set(attrElAttrs, datom.String(string(el.Attributes)))
		} else if vs := ee.Attrs[attrElAttrs]; len(vs) > 0 {
			ds = retract(ds, eid, attrElAttrs, vs[0])
		}
		if hasData {
			set(attrElCID, datom.String(d.CID.String()))
			set(attrElLen, datom.Int(d.Size))
		}
	}
	words, terms := indexTerms(id, typ, m)
	ix, err := r.db.Pull(ctx, r.key, ixEntity(id))
	if err != nil {
		return nil, err
	}
	ds = r.ixDatoms(ds, id, ix, words, terms, acl)
	now := r.now().UTC()
	ds = add(ds, e, attrVersion, datom.Int(s.version+1))
	if !now.Equal(s.modified) {
		ds = add(ds, e, attrModifiedOn, datom.Time(now))
	}
	if by.ID != "" && by.ID != s.modB {
		ds = add(ds, e, attrModifiedBy, datom.String(by.ID))
	}
	if _, err := r.transact(ctx, ds); err != nil {
		return nil, fmt.Errorf("update %s: %w", id, err)
	}
	return r.Get(ctx, id)
}

func retractEntity(ds []datom.Datom, ent *datom.Entity) []datom.Datom {
	for _, a := range slices.Sorted(func(yield func(string) bool) {
		for a := range ent.Attrs {
			if !yield(a) {
				return
			}
		}
	}) {
		for _, v := range ent.Attrs[a] {
			ds = retract(ds, ent.ID, a, v)
		}
	}
	return ds
}

// Delete retracts every datom of an object, its elements and its search terms. The core's
// history keeps them; the element blobs are left for the blob store to collect.
func (r *Repository) Delete(ctx context.Context, by Principal, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	s, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	ds := retractEntity(nil, s.ent)
	for _, eid := range s.elOrder {
		ds = retractEntity(ds, s.els[eid])
	}
	ix, err := r.db.Pull(ctx, r.key, ixEntity(id))
	if err != nil {
		return err
	}
	ds = retractEntity(ds, ix)
	if _, err := r.transact(ctx, ds); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// History returns every assertion and retraction of an object's own datoms (not its elements'
// or search terms'), in transaction order.
func (r *Repository) History(ctx context.Context, id string) ([]datom.Datom, error) {
	return r.db.History(ctx, r.key, objEntity(id), "")
}

// CreateBatch stores many new objects without element bytes (their elements, if any, are
// empty), several to a transaction, and returns their ids. It is for bulk loads: each
// transaction is all or nothing, and a failure stops the batch at that transaction.
func (r *Repository) CreateBatch(ctx context.Context, by Principal, dos []*DigitalObject) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureSchema(ctx); err != nil {
		return nil, err
	}
	var ids []string
	var ds []datom.Datom
	seen := map[string]bool{}
	flush := func() error {
		if len(ds) == 0 {
			return nil
		}
		_, err := r.transact(ctx, ds)
		ds = ds[:0]
		return err
	}
	now := r.now().UTC()
	var empty ElementData
	for _, in := range dos {
		attrs, m, err := canonicalObject("attributes", in.Attributes, MaxAttributesLen)
		if err != nil {
			return ids, err
		}
		delete(m, "metadata")
		if m != nil {
			if attrs, err = marshalNoEscape(m); err != nil {
				return ids, err
			}
		}
		acl, err := aclOf(m)
		if err != nil {
			return ids, err
		}
		id := in.ID
		if id == "" {
			id = r.mintID()
		}
		if err := checkName("object id", id, MaxIDLen); err != nil {
			return ids, err
		}
		if seen[id] {
			return ids, fmt.Errorf("%w: object %s twice in the batch", ErrConflict, id)
		}
		seen[id] = true
		if _, err := r.load(ctx, id); err == nil {
			return ids, fmt.Errorf("%w: object %s already exists", ErrConflict, id)
		} else if !errors.Is(err, ErrNotFound) {
			return ids, err
		}
		e := objEntity(id)
		var one []datom.Datom
		one = add(one, e, attrID, datom.String(id))
		one = add(one, e, attrType, datom.String(in.Type))
		if attrs != nil {
			a, v, err := r.attributesDatom(ctx, id, attrs)
			if err != nil {
				return ids, err
			}
			one = add(one, e, a, v)
		}
		one = add(one, e, attrVersion, datom.Int(1))
		one = add(one, e, attrCreatedOn, datom.Time(now))
		one = add(one, e, attrModifiedOn, datom.Time(now))
		if by.ID != "" {
			one = add(one, e, attrCreatedBy, datom.String(by.ID))
			one = add(one, e, attrModifiedBy, datom.String(by.ID))
		}
		for i, el := range in.Elements {
			if !empty.CID.Defined() {
				if empty, err = r.emptyBlob(ctx); err != nil {
					return ids, err
				}
			}
			one = r.elementDatoms(one, id, el, i, empty)
			one = add(one, e, attrElement, datom.Ref(elEntity(id, el.ID)))
		}
		words, terms := indexTerms(id, in.Type, m)
		one = r.ixDatoms(one, id, nil, words, terms, acl)
		if len(ds)+len(one) > datom.MaxDatomsPerTx {
			if err := flush(); err != nil {
				return ids, err
			}
		}
		ds = append(ds, one...)
		ids = append(ids, id)
	}
	return ids, flush()
}

// LiveBlobs returns the CIDs of the blobs the repository's current objects name (element bytes
// and large attributes), for a blob store that pins what datoms reference and collects the
// rest. Older versions' blobs are not in it: keeping history's bytes is the pinning policy's
// choice.
func (r *Repository) LiveBlobs(ctx context.Context) ([]cid.Cid, error) {
	var out []cid.Cid
	seen := map[string]bool{}
	for _, a := range []string{attrElCID, attrAttributesCID} {
		q := &datom.Query{Find: []string{"?v"}, Where: []datom.Clause{clause(a, varV)}, Cores: []corestore.Key{r.key}}
		res, err := r.db.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, row := range res.Rows {
			s := row.Values[0].Str
			if seen[s] {
				continue
			}
			seen[s] = true
			c, err := cid.Decode(s)
			if err != nil {
				return nil, fmt.Errorf("core %s names a malformed CID %q: %w", r.key, s, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

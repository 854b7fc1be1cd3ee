package dwn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// recordsWrite is a parsed RecordsWrite (dwn-sdk-js's RecordsWrite class).
type recordsWrite struct {
	*msg
	owner        string
	hasOwner     bool
	ownerPayload *jsv.Object
	attesters    []string
}

func (w *recordsWrite) recordID() string  { return strOr(w.raw, "recordId") }
func (w *recordsWrite) contextID() string { return strOr(w.raw, "contextId") }
func (w *recordsWrite) protocol() (string, bool) {
	return getStr(w.desc, "protocol")
}

// ownerSignatureSigner is the signer of the owner signature.
func (w *recordsWrite) ownerSignatureSigner() (string, error) {
	os := getObj(w.auth, "ownerSignature")
	if os == nil {
		return "", nil
	}
	e, err := firstSignature(os)
	if err != nil {
		return "", err
	}
	return signerDIDOf(e)
}

// newRecordsWrite is the RecordsWrite constructor.
func newRecordsWrite(raw *jsv.Object) (*recordsWrite, error) {
	w := &recordsWrite{msg: &msg{raw: raw, desc: getObj(raw, "descriptor"), auth: getObj(raw, "authorization")}}
	if w.auth != nil {
		var err error
		if w.author, err = authorOf(raw); err != nil {
			return nil, err
		}
		w.hasAuthor = true
		if w.signer, err = signerOf(raw); err != nil {
			return nil, err
		}
		if w.payload, err = decodePlainObjectPayload(getObj(w.auth, "signature")); err != nil {
			return nil, err
		}
		if os := getObj(w.auth, "ownerSignature"); os != nil {
			if g := getObj(w.auth, "ownerDelegatedGrant"); g != nil {
				w.owner, err = signerOf(g)
			} else {
				var e any
				if e, err = firstSignature(os); err == nil {
					w.owner, err = signerDIDOf(e)
				}
			}
			if err != nil {
				return nil, err
			}
			w.hasOwner = true
			if w.ownerPayload, err = decodePlainObjectPayload(os); err != nil {
				return nil, err
			}
		}
	}
	if att := getObj(raw, "attestation"); att != nil {
		for _, s := range getArr(att, "signatures") {
			d, err := signerDIDOf(s)
			if err != nil {
				return nil, err
			}
			w.attesters = append(w.attesters, d)
		}
	}
	return w, nil
}

// parseRecordsWrite is RecordsWrite.parse.
func parseRecordsWrite(message *jsv.Object) (*recordsWrite, error) {
	raw := jsv.DeepClone(message).(*jsv.Object)
	auth := getObj(raw, "authorization")
	if auth == nil {
		return nil, jsError("Cannot read properties of undefined (reading 'signature')")
	}
	desc := getObj(raw, "descriptor")
	if _, err := validateSignatureStructure(getObj(auth, "signature"), desc, "RecordsWriteSignaturePayload"); err != nil {
		return nil, err
	}
	if os := getObj(auth, "ownerSignature"); os != nil {
		if _, err := validateSignatureStructure(os, desc, "GenericSignaturePayload"); err != nil {
			return nil, err
		}
	}
	if err := validateAttestationIntegrity(raw); err != nil {
		return nil, err
	}
	w, err := newRecordsWrite(raw)
	if err != nil {
		return nil, err
	}
	if err := w.validateIntegrity(); err != nil {
		return nil, err
	}
	return w, nil
}

func validateAttestationIntegrity(raw *jsv.Object) error {
	att := getObj(raw, "attestation")
	if att == nil {
		return nil
	}
	sigs, ok := att.Get("signatures")
	if !ok {
		return jsError("Cannot read properties of undefined (reading 'length')")
	}
	if a, _ := sigs.([]any); len(a) != 1 {
		return newError(CodeRecordsWriteAttestationIntegrityMoreThanOneSignature, fmt.Sprintf("Currently implementation only supports 1 attester, but got %d", len(a)))
	}
	payload, err := decodePlainObjectPayload(att)
	if err != nil {
		return err
	}
	want, err := ComputeCID(getObj(raw, "descriptor"))
	if err != nil {
		return jsError(stripCBORPrefix(err))
	}
	if got := jsStr(payload, "descriptorCid"); got != want {
		return newError(CodeRecordsWriteAttestationIntegrityDescriptorCidMismatch, fmt.Sprintf("descriptorCid %s does not match expected descriptorCid %s", got, want))
	}
	if n := payload.Len(); n > 1 {
		return newError(CodeRecordsWriteAttestationIntegrityInvalidPayloadProperty, fmt.Sprintf("Only 'descriptorCid' is allowed in attestation payload, but got %d properties.", n))
	}
	return nil
}

// entryIDOf is RecordsWrite.getEntryId: the CID of the descriptor with the author added.
func entryIDOf(author string, hasAuthor bool, desc *jsv.Object) (string, error) {
	if !hasAuthor {
		return "", newError(CodeRecordsWriteGetEntryIdUndefinedAuthor, "Property `author` is needed to compute entry ID.")
	}
	in := desc.Clone()
	in.Set("author", author)
	c, err := ComputeCID(in)
	if err != nil {
		return "", jsError(stripCBORPrefix(err))
	}
	return c, nil
}

func (w *recordsWrite) entryID() (string, error) { return entryIDOf(w.author, w.hasAuthor, w.desc) }

func (w *recordsWrite) isInitialWrite() (bool, error) {
	e, err := w.entryID()
	if err != nil {
		return false, err
	}
	rid, _ := w.raw.Get("recordId")
	return jsv.StrictEqual(rid, e), nil
}

// isInitialWriteMessage is the static RecordsWrite.isInitialWrite.
func isInitialWriteMessage(m *jsv.Object) (bool, error) {
	if !isRecordsWrite(m) {
		return false, nil
	}
	author, err := authorOf(m)
	if err != nil {
		return false, err
	}
	e, err := entryIDOf(author, getObj(m, "authorization") != nil, getObj(m, "descriptor"))
	if err != nil {
		return false, err
	}
	rid, _ := m.Get("recordId")
	return jsv.StrictEqual(rid, e), nil
}

// initialWriteOf is RecordsWrite.getInitialWrite.
func initialWriteOf(ms []*jsv.Object) (*jsv.Object, error) {
	for _, m := range ms {
		ok, err := isInitialWriteMessage(m)
		if err != nil {
			return nil, err
		}
		if ok {
			return m, nil
		}
	}
	return nil, newError(CodeRecordsWriteGetInitialWriteNotFound, "Initial write is not found.")
}

func (w *recordsWrite) validateIntegrity() error {
	initial, err := w.isInitialWrite()
	if err != nil {
		return err
	}
	if initial {
		created, ts := jsStr(w.desc, "dateCreated"), jsStr(w.desc, "messageTimestamp")
		if created != ts {
			return newError(CodeRecordsWriteValidateIntegrityDateCreatedMismatch, fmt.Sprintf("messageTimestamp %s must match dateCreated %s for the initial write", ts, created))
		}
		if w.desc.Has("protocol") && !w.desc.Has("parentId") {
			want, err := w.entryID()
			if err != nil {
				return err
			}
			got, ok := w.raw.Get("contextId")
			if !jsv.StrictEqual(got, want) {
				return newError(CodeRecordsWriteValidateIntegrityContextIdMismatch, fmt.Sprintf("contextId in message: %s does not match deterministic contextId: %s", jsString(got, ok), want))
			}
		}
	}
	rid, hasRid := w.raw.Get("recordId")
	prid, hasPrid := w.payload.Get("recordId")
	if !(hasRid == hasPrid && (!hasRid || jsv.StrictEqual(rid, prid))) {
		return newError(CodeRecordsWriteValidateIntegrityRecordIdUnauthorized, fmt.Sprintf("recordId in message %s does not match recordId in authorization: %s", jsString(rid, hasRid), jsString(prid, hasPrid)))
	}
	cid, hasCid := w.raw.Get("contextId")
	pcid, hasPcid := w.payload.Get("contextId")
	if !(hasCid == hasPcid && (!hasCid || jsv.StrictEqual(cid, pcid))) {
		return newError(CodeRecordsWriteValidateIntegrityContextIdNotInSignerSignaturePayload, fmt.Sprintf("contextId in message %s does not match contextId in authorization: %s", jsString(cid, hasCid), jsString(pcid, hasPcid)))
	}
	if err := validateDelegatedGrantReferentialIntegrity(w.raw, w.payload, w.ownerPayload); err != nil {
		return err
	}
	if ac, ok := w.payload.Get("attestationCid"); ok {
		want, err := cidOrUndefined(w.raw, "attestation")
		if err != nil {
			return err
		}
		if !jsv.StrictEqual(ac, want) {
			return newError(CodeRecordsWriteValidateIntegrityAttestationMismatch, fmt.Sprintf("CID %s of attestation property in message does not match attestationCid in authorization: %s", want, jsString(ac, true)))
		}
	}
	if ec, ok := w.payload.Get("encryptionCid"); ok {
		want, err := cidOrUndefined(w.raw, "encryption")
		if err != nil {
			return err
		}
		if !jsv.StrictEqual(ec, want) {
			return newError(CodeRecordsWriteValidateIntegrityEncryptionCidMismatch, fmt.Sprintf("CID %s of encryption property in message does not match encryptionCid in authorization: %s", want, jsString(ec, true)))
		}
	}
	if p, ok := getStr(w.desc, "protocol"); ok {
		if err := validateProtocolURLNormalized(p, true); err != nil {
			return err
		}
	}
	if s, ok := getStr(w.desc, "schema"); ok {
		if err := validateSchemaURLNormalized(s); err != nil {
			return err
		}
	}
	if err := validateTimestamp(strOr(w.desc, "messageTimestamp")); err != nil {
		return err
	}
	if err := validateTimestamp(strOr(w.desc, "dateCreated")); err != nil {
		return err
	}
	if dp, ok := getStr(w.desc, "datePublished"); ok && dp != "" {
		if err := validateTimestamp(dp); err != nil {
			return err
		}
	}
	return nil
}

// cidOrUndefined computes Cid.computeCid(message[key]); an absent property is dag-cbor's error.
func cidOrUndefined(raw *jsv.Object, key string) (string, error) {
	v, ok := raw.Get(key)
	if !ok {
		return "", jsError("`undefined` is not supported by the IPLD Data Model and cannot be encoded")
	}
	c, err := ComputeCID(v)
	if err != nil {
		return "", jsError(stripCBORPrefix(err))
	}
	return c, nil
}

// constructIndexes is RecordsWrite.constructIndexes.
func (w *recordsWrite) constructIndexes(isLatestBaseState bool) (Indexes, error) {
	ix := Indexes{}
	for _, k := range w.desc.Keys() {
		if k == "tags" || k == "published" {
			continue
		}
		v, _ := w.desc.Get(k)
		ix[k] = v
	}
	ix["isLatestBaseState"] = isLatestBaseState
	ix["published"] = jsv.Truthy(valueOf(w.desc, "published"))
	ix["author"] = w.author
	ix["recordId"] = w.recordID()
	e, err := w.entryID()
	if err != nil {
		return nil, err
	}
	ix["entryId"] = e
	if tags := getObj(w.desc, "tags"); tags != nil && isLatestBaseState {
		for _, k := range tags.Keys() {
			v, _ := tags.Get(k)
			ix["tag."+k] = v
		}
	}
	if len(w.attesters) > 0 {
		ix["attester"] = w.attesters[0]
	}
	if c, ok := w.raw.Get("contextId"); ok {
		ix["contextId"] = c
	}
	return ix, nil
}

func valueOf(o *jsv.Object, k string) any {
	v, _ := o.Get(k)
	return v
}

// verifyEqualityOfImmutableProperties is RecordsWrite.verifyEqualityOfImmutableProperties.
func verifyEqualityOfImmutableProperties(existing, incoming *jsv.Object) error {
	mutable := map[string]bool{"dataCid": true, "dataSize": true, "dataFormat": true, "datePublished": true, "published": true, "messageTimestamp": true, "tags": true}
	ed, nd := getObj(existing, "descriptor"), getObj(incoming, "descriptor")
	seen := map[string]bool{}
	names := append(append([]string(nil), ed.Keys()...), nd.Keys()...)
	for _, k := range names {
		if seen[k] {
			continue
		}
		seen[k] = true
		if mutable[k] {
			continue
		}
		ev, eok := ed.Get(k)
		nv, nok := nd.Get(k)
		if eok != nok || (eok && !jsv.StrictEqual(ev, nv)) {
			return newError(CodeRecordsWriteImmutablePropertyChanged, fmt.Sprintf("%s is an immutable property: cannot change '%s' to '%s'", k, jsString(ev, eok), jsString(nv, nok)))
		}
	}
	return nil
}

// parentContextOf is Records.getParentContextFromOfContextId.
func parentContextOf(contextID string, present bool) (string, bool) {
	if !present {
		return "", false
	}
	i := strings.LastIndexByte(contextID, '/')
	if i < 0 {
		return "", true
	}
	return contextID[:i], true
}

func itoa(n int) string { return strconv.Itoa(n) }

package dwn

import (
	"bytes"
	"errors"
	"io"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// convertFilter is Records.convertFilter.
func convertFilter(f *jsv.Object, dateSort string) Filter {
	out := f.Clone()
	out.Delete("tags")
	if tags := getObj(f, "tags"); tags != nil {
		for _, k := range tags.Keys() {
			v, _ := tags.Get(k)
			if o, ok := v.(*jsv.Object); ok {
				if sw, ok := getStr(o, "startsWith"); ok {
					out.Set("tag."+k, prefixRange(sw))
					continue
				}
			}
			out.Set("tag."+k, v)
		}
	}
	if dc := getObj(f, "dateCreated"); dc != nil {
		if r := rangeCriterion(dc); r != nil {
			out.Set("dateCreated", r)
		}
	}
	if dp := getObj(f, "datePublished"); dp != nil {
		if r := rangeCriterion(dp); r != nil {
			out.Set("published", true)
			out.Set("datePublished", r)
		}
	}
	if !isTrue(out, "published") && (dateSort == "publishedAscending" || dateSort == "publishedDescending") {
		out.Set("published", true)
	}
	if du := getObj(f, "dateUpdated"); du != nil {
		if r := rangeCriterion(du); r != nil {
			out.Set("messageTimestamp", r)
			out.Delete("dateUpdated")
		}
	}
	if c, ok := getStr(f, "contextId"); ok && c != "" {
		out.Set("contextId", prefixRange(c))
	}
	for _, k := range []string{"author", "recipient"} {
		if a, ok := valueOf(out, k).([]any); ok && len(a) == 0 {
			out.Delete(k)
		}
	}
	return out
}

// merge returns the properties of a followed by those of b (b's win, keeping a's positions).
func merge(a *jsv.Object, kv ...any) *jsv.Object {
	out := a.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i].(string), kv[i+1])
	}
	return out
}

func filterIncludesPublishedRecords(f *jsv.Object) bool {
	if f.Has("datePublished") {
		return true
	}
	v, ok := f.Get("published")
	return !ok || !jsv.StrictEqual(v, false)
}

func filterIncludesUnpublishedRecords(f *jsv.Object) bool {
	if !f.Has("datePublished") && !f.Has("published") {
		return true
	}
	v, _ := f.Get("published")
	return jsv.StrictEqual(v, false)
}

func shouldBuildUnpublishedFilter(f *jsv.Object, key, did string) bool {
	v, ok := f.Get(key)
	if !ok {
		return true
	}
	if a, isArr := v.([]any); isArr {
		if len(a) == 0 {
			return true
		}
		for _, e := range a {
			if jsv.StrictEqual(e, did) {
				return true
			}
		}
		return false
	}
	return jsv.StrictEqual(v, did)
}

// recordsRead is RecordsReadHandler.handle.
func (h *handler) recordsRead(message *jsv.Object) (*Reply, error) {
	read, err := parseRecordsMessage(message, nil)
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if read.hasAuthor {
		if err := verifyJWSs(h, read.auth); err != nil {
			return h.replyOrInternal(err, 401)
		}
	}
	f := jsv.NewObject()
	f.Set("interface", InterfaceRecords)
	f.Set("isLatestBaseState", true)
	conv := convertFilter(getObj(read.desc, "filter"), "")
	for _, k := range conv.Keys() {
		v, _ := conv.Get(k)
		f.Set(k, v)
	}
	ms, err := h.queryAll(f)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return statusReply(404, "Not Found"), nil
	}
	if len(ms) > 1 {
		return errorReply(newError(CodeRecordsReadReturnedMultiple, "Multiple records exist for the RecordsRead filter"), 400), nil
	}
	matched := ms[0]
	if strOr(getObj(matched, "descriptor"), "method") == MethodDelete {
		iw, err := h.fetchInitialRecordsWriteMessage(strOr(getObj(matched, "descriptor"), "recordId"))
		if err != nil {
			return nil, err
		}
		if iw == nil {
			return errorReply(newError(CodeRecordsReadInitialWriteNotFound, "Initial write for deleted record not found"), 400), nil
		}
		piw, err := parseRecordsWrite(iw)
		if err != nil {
			return nil, err
		}
		if err := h.authorizeRecordsRead(read, piw); err != nil {
			return h.replyOrInternal(err, 401)
		}
		r := statusReply(404, "Not Found")
		r.Entry = &Entry{RecordsDelete: matched, InitialWrite: iw}
		return r, nil
	}
	pw, err := parseRecordsWrite(matched)
	if err != nil {
		return nil, err
	}
	if err := h.authorizeRecordsRead(read, pw); err != nil {
		return h.replyOrInternal(err, 401)
	}
	write := matched.Clone()
	var data io.ReadCloser
	if enc, ok := getStr(write, "encodedData"); ok {
		b, err := decodeBase64URL(enc)
		if err != nil {
			return nil, err
		}
		data = io.NopCloser(bytes.NewReader(b))
		write.Delete("encodedData")
	} else {
		rc, _, err := h.n.cfg.data.Get(h.ctx, h.tenant, strOr(write, "recordId"), strOr(getObj(write, "descriptor"), "dataCid"))
		if errors.Is(err, ErrNotFound) {
			return statusReply(404, "Not Found"), nil
		}
		if err != nil {
			return nil, err
		}
		data = rc
	}
	r := statusReply(200, "OK")
	r.Entry = &Entry{RecordsWrite: write}
	r.Data = data
	r.DataFormat = strOr(getObj(write, "descriptor"), "dataFormat")
	initial, err := isInitialWriteMessage(write)
	if err != nil {
		data.Close()
		return nil, err
	}
	if !initial {
		iws, err := h.queryAll(filter("recordId", strOr(write, "recordId"), "isLatestBaseState", false, "method", MethodWrite))
		if err != nil {
			data.Close()
			return nil, err
		}
		if len(iws) > 0 {
			iw := iws[0].Clone()
			iw.Delete("encodedData")
			r.Entry.InitialWrite = iw
		}
	}
	return r, nil
}

// authorizeRecordsRead is RecordsReadHandler.authorizeRecordsRead.
func (h *handler) authorizeRecordsRead(read *msg, w *recordsWrite) error {
	if g := getObj(read.auth, "authorDelegatedGrant"); g != nil {
		pg, err := parsePermissionGrant(g)
		if err != nil {
			return err
		}
		if err := h.grantAuthorizeRecordsRead(read.raw, w.raw, read.author, read.signer, pg); err != nil {
			return err
		}
	}
	switch {
	case read.hasAuthor && read.author == h.tenant:
		return nil
	case isTrue(w.desc, "published"):
		return nil
	case read.hasAuthor && (read.author == strOr(w.desc, "recipient") && w.desc.Has("recipient") || read.author == w.author):
		return nil
	case read.hasAuthor && read.payload.Has("permissionGrantId"):
		gid, _ := read.payloadStr("permissionGrantId")
		g, err := h.fetchGrant(gid)
		if err != nil {
			return err
		}
		return h.grantAuthorizeRecordsRead(read.raw, w.raw, h.tenant, read.author, g)
	case w.desc.Has("protocol"):
		return h.authorizeProtocolRead(read, w)
	}
	return newError(CodeRecordsReadAuthorizationFailed, "message failed authorization")
}

package dwn

import (
	"github.com/datomspace/datomspace/dwn/jsv"
)

// queryExtraChecks are the checks RecordsQuery.parse and RecordsSubscribe.parse add.
func queryExtraChecks(desc *jsv.Object, missingPathCode, missingPathMsg string) func(*jsv.Object) error {
	return func(payload *jsv.Object) error {
		f := getObj(desc, "filter")
		if payload != nil && payload.Has("protocolRole") && !f.Has("protocolPath") {
			return newError(missingPathCode, missingPathMsg)
		}
		if p, ok := f.Get("protocol"); ok {
			ps, _ := p.(string)
			if err := validateProtocolURLNormalized(ps, true); err != nil {
				return err
			}
		}
		if s, ok := getStr(f, "schema"); ok {
			if err := validateSchemaURLNormalized(s); err != nil {
				return err
			}
		}
		return nil
	}
}

func sortOf(dateSort string) Sort {
	switch dateSort {
	case "createdDescending":
		return Sort{Property: "dateCreated", Descending: true}
	case "publishedAscending":
		return Sort{Property: "datePublished"}
	case "publishedDescending":
		return Sort{Property: "datePublished", Descending: true}
	}
	return Sort{Property: "dateCreated"}
}

// recordsQuery is RecordsQueryHandler.handle.
func (h *handler) recordsQuery(message *jsv.Object) (*Reply, error) {
	desc := getObj(message, "descriptor")
	f := getObj(desc, "filter")
	dateSort := strOr(desc, "dateSort")
	if v, ok := f.Get("published"); ok && jsv.StrictEqual(v, false) && (dateSort == "publishedAscending" || dateSort == "publishedDescending") {
		return errorReply(newError(CodeRecordsQueryParseFilterPublishedSortInvalid, "queries must not filter for `published:false` and sort by "+dateSort), 400), nil
	}
	q, err := parseRecordsMessage(message, queryExtraChecks(desc, CodeRecordsQueryFilterMissingRequiredProperties, "Role-authorized queries must include `protocolPath` in the filter"))
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	sort := sortOf(dateSort)
	page := paginationOf(getObj(desc, "pagination"))
	published := func() Filter {
		return merge(convertFilter(f, dateSort), "interface", InterfaceRecords, "method", MethodWrite, "published", true, "isLatestBaseState", true)
	}
	var ms []*jsv.Object
	var cursor *Cursor
	if filterIncludesPublishedRecords(f) && !q.hasAuthor {
		ms, cursor, err = h.query([]Filter{published()}, sort, page)
	} else {
		if err := verifyJWSs(h, q.auth); err != nil {
			return h.replyOrInternal(err, 401)
		}
		if err := h.authorizeRecordsQuery(q); err != nil {
			return h.replyOrInternal(err, 401)
		}
		if q.hasAuthor && q.author == h.tenant {
			ms, cursor, err = h.query([]Filter{merge(convertFilter(f, dateSort), "interface", InterfaceRecords, "method", MethodWrite, "isLatestBaseState", true)}, sort, page)
		} else {
			var fs []Filter
			if filterIncludesPublishedRecords(f) {
				fs = append(fs, published())
			}
			if filterIncludesUnpublishedRecords(f) {
				if shouldBuildUnpublishedFilter(f, "author", q.author) {
					fs = append(fs, merge(convertFilter(f, dateSort), "author", q.author, "interface", InterfaceRecords, "method", MethodWrite, "isLatestBaseState", true, "published", false))
				}
				if q.payload.Has("protocolRole") {
					fs = append(fs, merge(convertFilter(f, dateSort), "interface", InterfaceRecords, "method", MethodWrite, "isLatestBaseState", true, "published", false))
				}
				if shouldBuildUnpublishedFilter(f, "recipient", q.author) {
					fs = append(fs, merge(convertFilter(f, dateSort), "interface", InterfaceRecords, "method", MethodWrite, "recipient", q.author, "isLatestBaseState", true, "published", false))
				}
			}
			ms, cursor, err = h.query(fs, sort, page)
		}
	}
	if err != nil {
		return nil, err
	}
	entries := make([]any, 0, len(ms))
	for _, m := range ms {
		initial, err := isInitialWriteMessage(m)
		if err != nil {
			return nil, err
		}
		if !initial {
			iws, err := h.queryAll(filter("recordId", strOr(m, "recordId"), "isLatestBaseState", false, "method", MethodWrite))
			if err != nil {
				return nil, err
			}
			if len(iws) > 0 {
				iw := iws[0].Clone()
				iw.Delete("encodedData")
				m = m.Clone()
				m.Set("initialWrite", iw)
			}
		}
		entries = append(entries, m)
	}
	r := statusReply(200, "OK")
	r.Entries = entries
	r.Cursor = cursor
	return r, nil
}

func paginationOf(p *jsv.Object) *Pagination {
	if p == nil {
		return nil
	}
	pg := &Pagination{}
	if l, ok := getNum(p, "limit"); ok {
		pg.Limit = &l
	}
	if c := getObj(p, "cursor"); c != nil {
		pg.Cursor = cursorOf(c)
	}
	return pg
}

func cursorOf(c *jsv.Object) *Cursor {
	if c == nil {
		return nil
	}
	v, _ := c.Get("value")
	return &Cursor{MessageCID: strOr(c, "messageCid"), Value: v}
}

// authorizeRecordsQuery is RecordsQueryHandler.authorizeRecordsQuery (and the subscribe one).
func (h *handler) authorizeRecordsQuery(q *msg) error {
	if g := getObj(q.auth, "authorDelegatedGrant"); g != nil {
		pg, err := parsePermissionGrant(g)
		if err != nil {
			return err
		}
		if err := h.grantAuthorizeRecordsQuery(q.raw, q.author, q.signer, pg); err != nil {
			return err
		}
	}
	if q.payload.Has("protocolRole") {
		return h.authorizeProtocolQuery(q)
	}
	return nil
}

// recordsSubscribe is RecordsSubscribeHandler.handle.
func (h *handler) recordsSubscribe(message *jsv.Object) (*Reply, error) {
	desc := getObj(message, "descriptor")
	f := getObj(desc, "filter")
	s, err := parseRecordsMessage(message, queryExtraChecks(desc, CodeRecordsSubscribeFilterMissingRequiredProperties, "Role-authorized subscriptions must include `protocolPath` in the filter"))
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	methods := []any{MethodWrite, MethodDelete}
	published := func() Filter {
		return merge(convertFilter(f, ""), "interface", InterfaceRecords, "method", methods, "published", true)
	}
	var fs []Filter
	if filterIncludesPublishedRecords(f) && !s.hasAuthor {
		fs = []Filter{published()}
	} else {
		if err := verifyJWSs(h, s.auth); err != nil {
			return h.replyOrInternal(err, 401)
		}
		if err := h.authorizeRecordsQuery(s); err != nil {
			return h.replyOrInternal(err, 401)
		}
		if s.hasAuthor && s.author == h.tenant {
			fs = []Filter{merge(convertFilter(f, ""), "interface", InterfaceRecords, "method", methods)}
		} else {
			if filterIncludesPublishedRecords(f) {
				fs = append(fs, published())
			}
			if filterIncludesUnpublishedRecords(f) {
				if shouldBuildUnpublishedFilter(f, "author", s.author) {
					fs = append(fs, merge(convertFilter(f, ""), "author", s.author, "interface", InterfaceRecords, "method", methods, "published", false))
				}
				if s.payload.Has("protocolRole") {
					fs = append(fs, merge(convertFilter(f, ""), "interface", InterfaceRecords, "method", methods, "published", false))
				}
				if shouldBuildUnpublishedFilter(f, "recipient", s.author) {
					fs = append(fs, merge(convertFilter(f, ""), "interface", InterfaceRecords, "method", methods, "recipient", s.author, "published", false))
				}
			}
		}
	}
	return h.subscribe(message, fs)
}

func (h *handler) subscribe(message *jsv.Object, fs []Filter) (*Reply, error) {
	cid, err := MessageCID(message)
	if err != nil {
		return nil, err
	}
	onEvent := h.opts.onEvent
	closer := h.n.stream.subscribe(h.tenant, func(e Event, ix Indexes) {
		if onEvent != nil && MatchAnyFilter(ix, fs) {
			onEvent(e)
		}
	})
	r := statusReply(200, "OK")
	r.Subscription = &Subscription{ID: cid, close: closer}
	return r, nil
}

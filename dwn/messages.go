package dwn

import (
	"bytes"
	"errors"
	"io"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// parseMessagesMessage is MessagesQuery/Subscribe.parse: schema, signature structure, normalized
// protocols in the filters (and for Subscribe the timestamp).
func parseMessagesMessage(message *jsv.Object, name string, checkTimestamp bool) (*msg, error) {
	if err := validateJSONSchema(name, message); err != nil {
		return nil, err
	}
	desc := getObj(message, "descriptor")
	if _, err := validateSignatureStructure(getObj(getObj(message, "authorization"), "signature"), desc, "GenericSignaturePayload"); err != nil {
		return nil, err
	}
	for _, f := range getArr(desc, "filters") {
		fo, _ := f.(*jsv.Object)
		if p, ok := getStr(fo, "protocol"); ok {
			if err := validateProtocolURLNormalized(p, true); err != nil {
				return nil, err
			}
		}
	}
	if checkTimestamp {
		if err := validateTimestamp(strOr(desc, "messageTimestamp")); err != nil {
			return nil, err
		}
	}
	return newMsg(message)
}

// convertMessagesFilters is Messages.convertFilters.
func convertMessagesFilters(filters []any) []Filter {
	var out []Filter
	for _, f := range filters {
		fo, _ := f.(*jsv.Object)
		if p, ok := fo.Get("protocol"); ok {
			pf := jsv.NewObject()
			pf.Set("protocol", PermissionsProtocol)
			pf.Set("tag.protocol", p)
			if mt := getObj(fo, "messageTimestamp"); mt != nil {
				if r := rangeCriterion(mt); r != nil {
					pf.Set("messageTimestamp", r)
				}
			}
			out = append(out, pf)
		}
		c := fo.Clone()
		if mt := getObj(fo, "messageTimestamp"); mt != nil {
			if r := rangeCriterion(mt); r != nil {
				c.Set("messageTimestamp", r)
				c.Delete("dateUpdated")
			}
		}
		out = append(out, c)
	}
	return out
}

func (h *handler) authorizeMessagesQuery(q *msg, failCode, failMsg string) error {
	if q.hasAuthor && q.author == h.tenant {
		return nil
	}
	if gid, ok := q.payloadStr("permissionGrantId"); q.hasAuthor && ok {
		g, err := h.fetchGrant(gid)
		if err != nil {
			return err
		}
		return h.grantAuthorizeMessagesQuery(q.raw, h.tenant, q.author, g)
	}
	return newError(failCode, failMsg)
}

// messagesQuery is MessagesQueryHandler.handle.
func (h *handler) messagesQuery(message *jsv.Object) (*Reply, error) {
	q, err := parseMessagesMessage(message, "MessagesQuery", false)
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if err := verifyJWSs(h, q.auth); err != nil {
		return h.replyOrInternal(err, 401)
	}
	if err := h.authorizeMessagesQuery(q, CodeMessagesQueryAuthorizationFailed, "message failed authorization"); err != nil {
		return h.replyOrInternal(err, 401)
	}
	events, cursor, err := h.n.cfg.events.Query(h.ctx, h.tenant, convertMessagesFilters(getArr(q.desc, "filters")), cursorOf(getObj(q.desc, "cursor")))
	if err != nil {
		return nil, err
	}
	r := statusReply(200, "OK")
	r.Entries = make([]any, len(events))
	for i, e := range events {
		r.Entries[i] = e
	}
	r.Cursor = cursor
	return r, nil
}

// messagesSubscribe is MessagesSubscribeHandler.handle.
func (h *handler) messagesSubscribe(message *jsv.Object) (*Reply, error) {
	s, err := parseMessagesMessage(message, "MessagesSubscribe", true)
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if err := verifyJWSs(h, s.auth); err != nil {
		return h.replyOrInternal(err, 401)
	}
	if err := h.authorizeMessagesQuery(s, CodeMessagesSubscribeAuthorizationFailed, "message failed authorization"); err != nil {
		return h.replyOrInternal(err, 401)
	}
	return h.subscribe(message, convertMessagesFilters(getArr(s.desc, "filters")))
}

// messagesRead is MessagesReadHandler.handle.
func (h *handler) messagesRead(message *jsv.Object) (*Reply, error) {
	desc := getObj(message, "descriptor")
	err := validateJSONSchema("MessagesRead", message)
	var cidStr string
	if err == nil {
		c, ok := getStr(desc, "messageCid")
		if cidStr, err = ParseMessageCID(c); err != nil || !ok {
			err = newError(CodeMessagesReadInvalidCid, jsStr(desc, "messageCid")+" is not a valid CID")
		}
	}
	if err == nil {
		_, err = validateSignatureStructure(getObj(getObj(message, "authorization"), "signature"), desc, "GenericSignaturePayload")
	}
	if err == nil {
		err = validateTimestamp(strOr(desc, "messageTimestamp"))
	}
	var read *msg
	if err == nil {
		read, err = newMsg(message)
	}
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if err := verifyJWSs(h, read.auth); err != nil {
		return h.replyOrInternal(err, 401)
	}
	target, err := h.n.cfg.messages.Get(h.ctx, h.tenant, cidStr)
	if errors.Is(err, ErrNotFound) {
		return statusReply(404, "Not Found"), nil
	}
	if err != nil {
		return nil, err
	}
	if err := h.authorizeMessagesRead(read, target); err != nil {
		return h.replyOrInternal(err, 401)
	}
	m := target.Clone()
	r := statusReply(200, "OK")
	r.Entry = &Entry{Message: m, MessageCID: strOr(desc, "messageCid")}
	if isRecordsWrite(m) {
		if enc, ok := getStr(m, "encodedData"); ok {
			b, err := decodeBase64URL(enc)
			if err != nil {
				return nil, err
			}
			r.Data = io.NopCloser(bytes.NewReader(b))
			m.Delete("encodedData")
		} else {
			rc, _, err := h.n.cfg.data.Get(h.ctx, h.tenant, strOr(m, "recordId"), strOr(getObj(m, "descriptor"), "dataCid"))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			if err == nil {
				r.Data = rc
			}
		}
		r.DataFormat = strOr(getObj(m, "descriptor"), "dataFormat")
	}
	return r, nil
}

func (h *handler) authorizeMessagesRead(read *msg, target *jsv.Object) error {
	if read.hasAuthor && read.author == h.tenant {
		return nil
	}
	if gid, ok := read.payloadStr("permissionGrantId"); read.hasAuthor && ok {
		g, err := h.fetchGrant(gid)
		if err != nil {
			return err
		}
		return h.grantAuthorizeMessagesRead(read.raw, target, h.tenant, read.author, g)
	}
	return newError(CodeMessagesReadAuthorizationFailed, "protocol message failed authorization")
}

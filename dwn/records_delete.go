package dwn

import (
	"github.com/datomspace/datomspace/dwn/jsv"
)

// parseRecordsMessage is the parse() of RecordsDelete, Read, Query and Subscribe: the signature
// structure (when signed), the delegated grant's integrity, the method's own checks (extra), the
// timestamp, and then the AbstractMessage constructor.
func parseRecordsMessage(message *jsv.Object, extra func(payload *jsv.Object) error) (*msg, error) {
	desc := getObj(message, "descriptor")
	var payload *jsv.Object
	if auth := getObj(message, "authorization"); auth != nil {
		var err error
		if payload, err = validateSignatureStructure(getObj(auth, "signature"), desc, "GenericSignaturePayload"); err != nil {
			return nil, err
		}
	}
	if err := validateDelegatedGrantReferentialIntegrity(message, payload, nil); err != nil {
		return nil, err
	}
	if extra != nil {
		if err := extra(payload); err != nil {
			return nil, err
		}
	}
	if err := validateTimestamp(strOr(desc, "messageTimestamp")); err != nil {
		return nil, err
	}
	return newMsg(message)
}

// recordsDelete is RecordsDeleteHandler.handle.
func (h *handler) recordsDelete(message *jsv.Object) (*Reply, error) {
	del, err := parseRecordsMessage(message, nil)
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if err := verifyJWSs(h, del.auth); err != nil {
		return h.replyOrInternal(err, 401)
	}
	rid := strOr(del.desc, "recordId")
	existing, err := h.queryAll(filter("interface", InterfaceRecords, "recordId", rid))
	if err != nil {
		return nil, err
	}
	newest, err := newestMessage(existing)
	if err != nil {
		return nil, err
	}
	if !canPerformDelete(message, newest) {
		return statusReply(404, "Not Found"), nil
	}
	if newer, err := isNewer(message, newest); err != nil {
		return nil, err
	} else if !newer {
		return statusReply(409, "Conflict"), nil
	}
	iw, err := h.fetchInitialRecordsWrite(rid)
	if err != nil {
		return h.replyOrInternal(err, 401)
	}
	if err := h.authorizeRecordsDelete(del, iw); err != nil {
		return h.replyOrInternal(err, 401)
	}
	if err := h.performRecordsDelete(message, del.author); err != nil {
		return nil, err
	}
	return statusReply(202, "Accepted"), nil
}

func (h *handler) authorizeRecordsDelete(del *msg, iw *recordsWrite) error {
	if g := getObj(del.auth, "authorDelegatedGrant"); g != nil {
		pg, err := parsePermissionGrant(g)
		if err != nil {
			return err
		}
		if iw == nil {
			return jsError("Cannot read properties of undefined (reading 'message')")
		}
		if err := h.grantAuthorizeRecordsDelete(del.raw, iw.raw, del.author, del.signer, pg); err != nil {
			return err
		}
	}
	if del.hasAuthor && del.author == h.tenant {
		return nil
	}
	if iw == nil {
		return jsError("Cannot read properties of undefined (reading 'message')")
	}
	if iw.desc.Has("protocol") {
		return h.authorizeProtocolDelete(del, iw)
	}
	return newError(CodeRecordsDeleteAuthorizationFailed, "RecordsDelete message failed authorization")
}

package dwn

import (
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// Grant authorization: dwn-sdk-js's GrantAuthorization and its Records, Protocols and Messages
// variants.

func (h *handler) grantBaseValidation(incoming *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if !(g.hasGrantee && jsv.StrictEqual(g.grantee, grantee)) {
		return newError(CodeGrantAuthorizationNotGrantedToAuthor, fmt.Sprintf("Permission grant is granted to %s, but need to be granted to %s", jsString(g.grantee, g.hasGrantee), grantee))
	}
	if g.grantor != grantor {
		return newError(CodeGrantAuthorizationNotGrantedForTenant, fmt.Sprintf("Permission grant is granted by %s, but need to be granted by %s", g.grantor, grantor))
	}
	d := getObj(incoming, "descriptor")
	ts := strOr(d, "messageTimestamp")
	if jsv.Less(ts, g.dateGranted) {
		return newError(CodeGrantAuthorizationGrantNotYetActive, "The message has a timestamp before the associated permission grant becomes active")
	}
	if jsv.LessOrEqual(g.dateExpires, ts) && g.dateExpires != nil {
		return newError(CodeGrantAuthorizationGrantExpired, "The message has timestamp after the expiry of the associated permission grant")
	}
	// revoked?
	revokes, err := h.queryAllFor(grantor, filter("parentId", g.id, "protocolPath", "grant/revocation", "isLatestBaseState", true))
	if err != nil {
		return err
	}
	oldest, err := oldestMessage(revokes)
	if err != nil {
		return err
	}
	if oldest != nil && jsv.LessOrEqual(strOr(getObj(oldest, "descriptor"), "messageTimestamp"), ts) {
		return newError(CodeGrantAuthorizationGrantRevoked, fmt.Sprintf("Permission grant with CID %s has been revoked", g.id))
	}
	iface, _ := d.Get("interface")
	method, _ := d.Get("method")
	si, sok := g.scope.Get("interface")
	sm, mok := g.scope.Get("method")
	if !(sok && jsv.StrictEqual(iface, si)) {
		return newError(CodeGrantAuthorizationInterfaceMismatch, "DWN Interface of incoming message is outside the scope of permission grant with ID "+g.id)
	}
	if !(mok && jsv.StrictEqual(method, sm)) {
		return newError(CodeGrantAuthorizationMethodMismatch, "DWN Method of incoming message is outside the scope of permission grant with ID "+g.id)
	}
	return nil
}

// queryAllFor queries the store of another tenant (GrantAuthorization queries the grantor's).
func (h *handler) queryAllFor(tenant string, filters ...Filter) ([]*jsv.Object, error) {
	ms, _, err := h.n.cfg.messages.Query(h.ctx, tenant, filters, Sort{Property: "messageTimestamp"}, nil)
	return ms, err
}

func (h *handler) grantVerifyRecordScope(write *jsv.Object, g *permissionGrant) error {
	d := getObj(write, "descriptor")
	sp, sok := g.scope.Get("protocol")
	wp, wok := d.Get("protocol")
	if sok != wok || (sok && !jsv.StrictEqual(sp, wp)) {
		return newError(CodeRecordsGrantAuthorizationScopeProtocolMismatch, "Grant scope specifies different protocol than what appears in the record")
	}
	if sc, ok := g.scope.Get("contextId"); ok {
		cid, has := getStr(write, "contextId")
		scs, _ := sc.(string)
		if !has || !strings.HasPrefix(cid, scs) {
			return newError(CodeRecordsGrantAuthorizationScopeContextIdMismatch, "Grant scope specifies different contextId than what appears in the record")
		}
	}
	if spp, ok := g.scope.Get("protocolPath"); ok {
		wpp, wok := d.Get("protocolPath")
		if !wok || !jsv.StrictEqual(spp, wpp) {
			return newError(CodeRecordsGrantAuthorizationScopeProtocolPathMismatch, "Grant scope specifies different protocolPath than what appears in the record")
		}
	}
	return nil
}

// grantAuthorizeRecordsWrite is RecordsGrantAuthorization.authorizeWrite.
func (h *handler) grantAuthorizeRecordsWrite(write *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(write, grantor, grantee, g); err != nil {
		return err
	}
	if err := h.grantVerifyRecordScope(write, g); err != nil {
		return err
	}
	d := getObj(write, "descriptor")
	pub := jsv.Truthy(valueOf(d, "published"))
	switch strOr(g.conditions, "publication") {
	case "Required":
		if !pub {
			return newError(CodeRecordsGrantAuthorizationConditionPublicationRequired, "Permission grant requires message to be published")
		}
	case "Prohibited":
		if pub {
			return newError(CodeRecordsGrantAuthorizationConditionPublicationProhibited, "Permission grant prohibits message from being published")
		}
	}
	return nil
}

// grantAuthorizeRecordsRead is RecordsGrantAuthorization.authorizeRead.
func (h *handler) grantAuthorizeRecordsRead(read, write *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(read, grantor, grantee, g); err != nil {
		return err
	}
	return h.grantVerifyRecordScope(write, g)
}

// grantAuthorizeRecordsQuery is RecordsGrantAuthorization.authorizeQueryOrSubscribe.
func (h *handler) grantAuthorizeRecordsQuery(incoming *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(incoming, grantor, grantee, g); err != nil {
		return err
	}
	if gp, ok := g.scope.Get("protocol"); ok {
		f := getObj(getObj(incoming, "descriptor"), "filter")
		mp, mok := f.Get("protocol")
		if !mok || !jsv.StrictEqual(mp, gp) {
			return newError(CodeRecordsGrantAuthorizationQueryOrSubscribeProtocolScopeMismatch, fmt.Sprintf("Grant protocol scope %s does not match protocol in message %s", jsString(gp, true), jsString(mp, mok)))
		}
	}
	return nil
}

// grantAuthorizeRecordsDelete is RecordsGrantAuthorization.authorizeDelete.
func (h *handler) grantAuthorizeRecordsDelete(del, write *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(del, grantor, grantee, g); err != nil {
		return err
	}
	if gp, ok := g.scope.Get("protocol"); ok {
		wp, wok := getObj(write, "descriptor").Get("protocol")
		if !wok || !jsv.StrictEqual(wp, gp) {
			return newError(CodeRecordsGrantAuthorizationDeleteProtocolScopeMismatch, fmt.Sprintf("Grant protocol scope %s does not match protocol in record to delete %s", jsString(gp, true), jsString(wp, wok)))
		}
	}
	return nil
}

// grantAuthorizeProtocolsConfigure is ProtocolsGrantAuthorization.authorizeConfigure.
func (h *handler) grantAuthorizeProtocolsConfigure(conf *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(conf, grantor, grantee, g); err != nil {
		return err
	}
	gp, ok := g.scope.Get("protocol")
	if !ok {
		return nil
	}
	cp, _ := getObj(getObj(conf, "descriptor"), "definition").Get("protocol")
	if !jsv.StrictEqual(gp, cp) {
		return newError(CodeProtocolsGrantAuthorizationScopeProtocolMismatch, "Grant scope specifies different protocol than what appears in the configure message.")
	}
	return nil
}

// grantAuthorizeProtocolsQuery is ProtocolsGrantAuthorization.authorizeQuery.
func (h *handler) grantAuthorizeProtocolsQuery(q *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(q, grantor, grantee, g); err != nil {
		return err
	}
	if gp, ok := g.scope.Get("protocol"); ok {
		mp, mok := getObj(getObj(q, "descriptor"), "filter").Get("protocol")
		if !mok || !jsv.StrictEqual(mp, gp) {
			return newError(CodeProtocolsGrantAuthorizationQueryProtocolScopeMismatch, fmt.Sprintf("Grant protocol scope %s does not match protocol in message %s", jsString(gp, true), jsString(mp, mok)))
		}
	}
	return nil
}

// grantAuthorizeMessagesQuery is MessagesGrantAuthorization.authorizeQueryOrSubscribe.
func (h *handler) grantAuthorizeMessagesQuery(q *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(q, grantor, grantee, g); err != nil {
		return err
	}
	if sp, ok := hasProtocolScope(g.scope); ok {
		for _, f := range getArr(getObj(q, "descriptor"), "filters") {
			fo, _ := f.(*jsv.Object)
			fp, fok := fo.Get("protocol")
			if !fok || !jsv.StrictEqual(fp, sp) {
				return newError(CodeMessagesGrantAuthorizationMismatchedProtocol, fmt.Sprintf("The protocol %s does not match the scoped protocol %s", jsString(fp, fok), sp))
			}
		}
	}
	return nil
}

// grantAuthorizeMessagesRead is MessagesGrantAuthorization.authorizeMessagesRead.
func (h *handler) grantAuthorizeMessagesRead(read, target *jsv.Object, grantor, grantee string, g *permissionGrant) error {
	if err := h.grantBaseValidation(read, grantor, grantee, g); err != nil {
		return err
	}
	sp, ok := g.scope.Get("protocol")
	if !ok {
		return nil
	}
	td := getObj(target, "descriptor")
	switch strOr(td, "interface") {
	case InterfaceRecords:
		w := target
		if !isRecordsWrite(target) {
			var err error
			if w, err = h.fetchNewestRecordsWrite(strOr(td, "recordId")); err != nil {
				return err
			}
		}
		wp, _ := getObj(w, "descriptor").Get("protocol")
		if jsv.StrictEqual(wp, sp) {
			return nil
		}
		if jsv.StrictEqual(wp, PermissionsProtocol) {
			scope, err := h.scopeFromPermissionRecord(w)
			if err != nil {
				return err
			}
			if p, ok := hasProtocolScope(scope); ok && jsv.StrictEqual(p, sp) {
				return nil
			}
		}
	case InterfaceProtocols:
		cp, _ := getObj(td, "definition").Get("protocol")
		if jsv.StrictEqual(cp, sp) {
			return nil
		}
	}
	return newError(CodeMessagesReadVerifyScopeFailed, "record message failed scope authorization")
}

// fetchNewestRecordsWrite is RecordsWrite.fetchNewestRecordsWrite.
func (h *handler) fetchNewestRecordsWrite(recordID string) (*jsv.Object, error) {
	ms, err := h.queryAll(filter("interface", InterfaceRecords, "method", MethodWrite, "recordId", recordID))
	if err != nil {
		return nil, err
	}
	n, err := newestMessage(ms)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, newError(CodeRecordsWriteGetNewestWriteRecordNotFound, "record not found")
	}
	return n, nil
}

// validateDelegatedGrantReferentialIntegrity is Records.validateDelegatedGrantReferentialIntegrity.
func validateDelegatedGrantReferentialIntegrity(m *jsv.Object, authorPayload, ownerPayload *jsv.Object) error {
	auth := getObj(m, "authorization")
	idDefined := authorPayload != nil && authorPayload.Has("delegatedGrantId")
	grantDefined := auth != nil && auth.Has("authorDelegatedGrant")
	if idDefined != grantDefined {
		return newError(CodeRecordsAuthorDelegatedGrantAndIdExistenceMismatch, fmt.Sprintf(
			"delegatedGrantId in message (author) signature and authorDelegatedGrant must both exist or be undefined.          delegatedGrantId in message (author) signature defined: %t,          authorDelegatedGrant defined: %t",
			idDefined, grantDefined))
	}
	if grantDefined {
		grant := getObj(auth, "authorDelegatedGrant")
		pg, err := parsePermissionGrant(grant)
		if err != nil {
			return err
		}
		if b, ok := pg.delegated.(bool); !ok || !b {
			return newError(CodeRecordsAuthorDelegatedGrantNotADelegatedGrant, "The owner delegated grant given is not a delegated grant.")
		}
		grantedTo, gok := getObj(grant, "descriptor").Get("recipient")
		signer, err := signerOf(m)
		if err != nil {
			return err
		}
		if !gok || !jsv.StrictEqual(grantedTo, signer) {
			return newError(CodeRecordsAuthorDelegatedGrantGrantedToAndOwnerSignatureMismatch, fmt.Sprintf("grantedTo %s in author delegated grant must be the same as the signer %s of the message signature.", jsString(grantedTo, gok), signer))
		}
		gc, err := MessageCID(grant)
		if err != nil {
			return jsError(stripCBORPrefix(err))
		}
		did, _ := authorPayload.Get("delegatedGrantId")
		if !jsv.StrictEqual(did, gc) {
			return newError(CodeRecordsAuthorDelegatedGrantCidMismatch, fmt.Sprintf("CID of the author delegated grant %s must be the same as           the delegatedGrantId %s in the message signature.", gc, jsString(did, true)))
		}
	}
	oidDefined := ownerPayload != nil && ownerPayload.Has("delegatedGrantId")
	ogDefined := auth != nil && auth.Has("ownerDelegatedGrant")
	if oidDefined != ogDefined {
		return newError(CodeRecordsOwnerDelegatedGrantAndIdExistenceMismatch, fmt.Sprintf(
			"delegatedGrantId in owner signature and ownerDelegatedGrant must both exist or be undefined.          delegatedGrantId in owner signature defined: %t,          ownerDelegatedGrant defined: %t",
			oidDefined, ogDefined))
	}
	if ogDefined {
		grant := getObj(auth, "ownerDelegatedGrant")
		pg, err := parsePermissionGrant(grant)
		if err != nil {
			return err
		}
		if b, ok := pg.delegated.(bool); !ok || !b {
			return newError(CodeRecordsOwnerDelegatedGrantNotADelegatedGrant, "The owner delegated grant given is not a delegated grant.")
		}
		grantedTo, gok := getObj(grant, "descriptor").Get("recipient")
		e, err := firstSignature(getObj(auth, "ownerSignature"))
		if err != nil {
			return err
		}
		signer, err := signerDIDOf(e)
		if err != nil {
			return err
		}
		if !gok || !jsv.StrictEqual(grantedTo, signer) {
			return newError(CodeRecordsOwnerDelegatedGrantGrantedToAndOwnerSignatureMismatch, fmt.Sprintf("grantedTo %s in owner delegated grant must be the same as the signer %s of the owner signature.", jsString(grantedTo, gok), signer))
		}
		gc, err := MessageCID(grant)
		if err != nil {
			return jsError(stripCBORPrefix(err))
		}
		did, _ := ownerPayload.Get("delegatedGrantId")
		if !jsv.StrictEqual(did, gc) {
			return newError(CodeRecordsOwnerDelegatedGrantCidMismatch, fmt.Sprintf("CID of the owner delegated grant %s must be the same as           the delegatedGrantId %s in the owner signature.", gc, jsString(did, true)))
		}
	}
	return nil
}

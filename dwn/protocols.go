package dwn

import (
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/internal/jsonschema"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// protocolsConfigure is ProtocolsConfigureHandler.handle.
func (h *handler) protocolsConfigure(message *jsv.Object) (*Reply, error) {
	desc := getObj(message, "descriptor")
	def := getObj(desc, "definition")
	err := validateJSONSchema("ProtocolsConfigure", message)
	if err == nil {
		err = validateProtocolDefinition(def)
	}
	if err == nil {
		_, err = validateSignatureStructure(getObj(getObj(message, "authorization"), "signature"), desc, "GenericSignaturePayload")
	}
	if err == nil {
		err = validateTimestamp(strOr(desc, "messageTimestamp"))
	}
	var pc *msg
	if err == nil {
		pc, err = newMsg(message)
	}
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	if err := verifyJWSs(h, pc.auth); err != nil {
		return h.replyOrInternal(err, 401)
	}
	if err := h.authorizeProtocolsConfigure(pc); err != nil {
		return h.replyOrInternal(err, 401)
	}
	proto := valueOf(def, "protocol")
	existing, err := h.queryAll(filter("interface", InterfaceProtocols, "method", MethodConfigure, "protocol", proto))
	if err != nil {
		return nil, err
	}
	newest, err := newestMessage(existing)
	if err != nil {
		return nil, err
	}
	incomingNewest := newest == nil
	if !incomingNewest {
		if incomingNewest, err = isNewer(message, newest); err != nil {
			return nil, err
		}
	}
	var reply *Reply
	if incomingNewest {
		newest = message
		if err := h.journal(message, nil, false); err != nil {
			return nil, err
		}
		ix := Indexes{}
		for _, k := range desc.Keys() {
			if k != "definition" {
				ix[k] = valueOf(desc, k)
			}
		}
		ix["author"] = pc.author
		ix["protocol"] = proto
		ix["published"] = valueOf(def, "published")
		if err := h.n.cfg.messages.Put(h.ctx, h.tenant, message, ix); err != nil {
			return nil, err
		}
		cid, err := MessageCID(message)
		if err != nil {
			return nil, err
		}
		if err := h.n.cfg.events.Append(h.ctx, h.tenant, cid, ix); err != nil {
			return nil, err
		}
		h.emit(Event{Message: message}, ix)
		reply = statusReply(202, "Accepted")
	} else {
		reply = statusReply(409, "Conflict")
	}
	var deleted []string
	for _, m := range existing {
		newer, err := isNewer(newest, m)
		if err != nil {
			return nil, err
		}
		if newer {
			cid, err := MessageCID(m)
			if err != nil {
				return nil, err
			}
			deleted = append(deleted, cid)
			if err := h.n.cfg.messages.Delete(h.ctx, h.tenant, cid); err != nil {
				return nil, err
			}
		}
	}
	if len(deleted) > 0 {
		if err := h.n.cfg.events.Delete(h.ctx, h.tenant, deleted); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

func (h *handler) authorizeProtocolsConfigure(pc *msg) error {
	if g := getObj(pc.auth, "authorDelegatedGrant"); g != nil {
		pg, err := parsePermissionGrant(g)
		if err != nil {
			return err
		}
		if err := h.grantAuthorizeProtocolsConfigure(pc.raw, pc.author, pc.signer, pg); err != nil {
			return err
		}
	}
	if pc.hasAuthor && pc.author == h.tenant {
		return nil
	}
	if pc.hasAuthor && pc.payload.Has("permissionGrantId") {
		gid, _ := pc.payloadStr("permissionGrantId")
		g, err := h.fetchGrant(gid)
		if err != nil {
			return err
		}
		return h.grantAuthorizeProtocolsConfigure(pc.raw, h.tenant, pc.author, g)
	}
	return newError(CodeProtocolsConfigureAuthorizationFailed, "message failed authorization")
}

// validateProtocolDefinition is ProtocolsConfigure.validateProtocolDefinition.
func validateProtocolDefinition(def *jsv.Object) error {
	p, _ := getStr(def, "protocol")
	if err := validateProtocolURLNormalized(p, true); err != nil {
		return err
	}
	types := getObj(def, "types")
	for _, k := range types.Keys() {
		if s, ok := getStr(getObj(types, k), "schema"); ok {
			if err := validateSchemaURLNormalized(s); err != nil {
				return err
			}
		}
	}
	roles, err := rolePaths("", getObj(def, "structure"), nil)
	if err != nil {
		return err
	}
	return validateRuleSet(getObj(def, "structure"), "", types.Keys(), roles)
}

func childPath(parent, t string) string {
	if parent == "" {
		return t
	}
	return parent + "/" + t
}

func rolePaths(path string, rs *jsv.Object, roles []string) ([]string, error) {
	if len(strings.Split(path, "/")) > 10 {
		return nil, newError(CodeProtocolsConfigureRecordNestingDepthExceeded, "Record nesting depth exceeded 10 levels.")
	}
	for _, t := range rs.Keys() {
		if strings.HasPrefix(t, "$") {
			continue
		}
		child := getObj(rs, t)
		cp := childPath(path, t)
		if jsv.Truthy(valueOf(child, "$role")) {
			roles = append(roles, cp)
		} else {
			var err error
			if roles, err = rolePaths(cp, child, roles); err != nil {
				return nil, err
			}
		}
	}
	return roles, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func canHas(rule *jsv.Object, action string) bool {
	for _, c := range getArr(rule, "can") {
		if cs, ok := c.(string); ok && cs == action {
			return true
		}
	}
	return false
}

func validateRuleSet(rs *jsv.Object, path string, types, roles []string) error {
	if sz := getObj(rs, "$size"); sz != nil {
		lo := 0.0
		if v, ok := getNum(sz, "min"); ok {
			lo = v
		}
		if hi, ok := getNum(sz, "max"); ok && hi < lo {
			return newError(CodeProtocolsConfigureInvalidSize, fmt.Sprintf("Invalid size range found: max limit %s less than min limit %s at protocol path '%s'", jsv.NumberString(hi), jsv.NumberString(lo), path))
		}
	}
	if tags := getObj(rs, "$tags"); tags != nil {
		for _, t := range tags.Keys() {
			if t == "$allowUndefinedTags" || t == "$requiredTags" {
				continue
			}
			v, _ := tags.Get(t)
			if errs := jsonschema.MetaCheck(v); len(errs) > 0 {
				return newError(CodeProtocolsConfigureInvalidTagSchema, "tags schema validation error: "+jsonschema.ErrorsText(errs, path+"/$tags/"+t))
			}
		}
	}
	rules := getArr(rs, "$actions")
	for i, r := range rules {
		rule, _ := r.(*jsv.Object)
		if role, ok := getStr(rule, "role"); ok {
			if !contains(roles, role) {
				return newError(CodeProtocolsConfigureRoleDoesNotExistAtGivenPath, fmt.Sprintf("Role in action %s for rule set %s does not exist.", jsv.Stringify(rule), path))
			}
			read := []string{"read", "query", "subscribe"}
			any, all := false, true
			for _, a := range read {
				if canHas(rule, a) {
					any = true
				} else {
					all = false
				}
			}
			if any && !all {
				return newError(CodeProtocolsConfigureRoleReadActionMissing, fmt.Sprintf("Role in action %s for rule set %s must contain all read actions (read, query, subscribe).", jsv.Stringify(rule), path))
			}
		}
		who, _ := getStr(rule, "who")
		of, hasOf := rule.Get("of")
		if who == "anyone" && jsv.Truthy(of) {
			return newError(CodeProtocolsConfigureInvalidActionOfNotAllowed, fmt.Sprintf("'of' is not allowed at rule set protocol path (%s)", path))
		}
		if who == "recipient" && !hasOf {
			for _, c := range getArr(rule, "can") {
				cs, _ := c.(string)
				if cs != "co-update" && cs != "co-delete" && cs != "co-prune" {
					return newError(CodeProtocolsConfigureInvalidRecipientOfAction, "Rules for `recipient` without `of` property must have `can` containing only `co-update`, `co-delete`, and `co-prune`.")
				}
			}
		}
		if who == "author" && !jsv.Truthy(of) {
			return newError(CodeProtocolsConfigureInvalidActionMissingOf, "'of' is required when 'author' is specified as 'who'")
		}
		if rule.Has("can") {
			if canHas(rule, "update") && !canHas(rule, "create") {
				return newError(CodeProtocolsConfigureInvalidActionUpdateWithoutCreate, fmt.Sprintf("Action rule %s contains 'update' action but missing the required 'create' action.", jsv.Stringify(rule)))
			}
			if canHas(rule, "delete") && !canHas(rule, "create") {
				return newError(CodeProtocolsConfigureInvalidActionDeleteWithoutCreate, fmt.Sprintf("Action rule %s contains 'delete' action but missing the required 'create' action.", jsv.Stringify(rule)))
			}
		}
		for j := i + 1; j < len(rules); j++ {
			other, _ := rules[j].(*jsv.Object)
			if w, ok := rule.Get("who"); ok {
				ow, ook := other.Get("who")
				oof, oofOK := other.Get("of")
				if ook && jsv.StrictEqual(w, ow) && hasOf == oofOK && (!hasOf || jsv.StrictEqual(of, oof)) {
					return newError(CodeProtocolsConfigureDuplicateActorInRuleSet, fmt.Sprintf("More than one action rule per actor %s of %s not allowed within a rule set: %s", jsString(w, true), jsString(of, hasOf), jsv.Stringify(rule)))
				}
			} else {
				rr, rok := rule.Get("role")
				or, ook := other.Get("role")
				if rok == ook && (!rok || jsv.StrictEqual(rr, or)) {
					return newError(CodeProtocolsConfigureDuplicateRoleInRuleSet, fmt.Sprintf("More than one action rule per role %s not allowed within a rule set: %s", jsString(rr, rok), jsv.Stringify(rule)))
				}
			}
		}
	}
	for _, t := range rs.Keys() {
		if strings.HasPrefix(t, "$") {
			continue
		}
		if !contains(types, t) {
			return newError(CodeProtocolsConfigureInvalidRuleSetRecordType, fmt.Sprintf("Rule set %s is not declared as an allowed type in the protocol definition.", t))
		}
		if err := validateRuleSet(getObj(rs, t), childPath(path, t), types, roles); err != nil {
			return err
		}
	}
	return nil
}

// protocolsQuery is ProtocolsQueryHandler.handle.
func (h *handler) protocolsQuery(message *jsv.Object) (*Reply, error) {
	desc := getObj(message, "descriptor")
	var err error
	if auth := getObj(message, "authorization"); auth != nil {
		_, err = validateSignatureStructure(getObj(auth, "signature"), desc, "GenericSignaturePayload")
	}
	f := getObj(desc, "filter")
	if err == nil && f != nil {
		p, ok := getStr(f, "protocol")
		err = validateProtocolURLNormalized(p, ok)
	}
	if err == nil {
		err = validateTimestamp(strOr(desc, "messageTimestamp"))
	}
	var q *msg
	if err == nil {
		q, err = newMsg(message)
	}
	if err != nil {
		return h.replyOrInternal(err, 400)
	}
	authErr := verifyJWSs(h, q.auth)
	if authErr == nil {
		authErr = h.authorizeProtocolsQuery(q)
	}
	if authErr != nil {
		switch codeOf(authErr) {
		case CodeAuthenticateJwsMissing, CodeProtocolsQueryUnauthorized, CodeProtocolsGrantAuthorizationQueryProtocolScopeMismatch:
			pf := jsv.NewObject()
			for _, k := range f.Keys() {
				pf.Set(k, valueOf(f, k))
			}
			pf.Set("interface", InterfaceProtocols)
			pf.Set("method", MethodConfigure)
			pf.Set("published", true)
			ms, err := h.queryAll(pf)
			if err != nil {
				return nil, err
			}
			r := statusReply(200, "OK")
			r.Entries = objects(ms)
			return r, nil
		}
		return h.replyOrInternal(authErr, 401)
	}
	qf := jsv.NewObject()
	for _, k := range f.Keys() {
		qf.Set(k, valueOf(f, k))
	}
	qf.Set("interface", InterfaceProtocols)
	qf.Set("method", MethodConfigure)
	ms, err := h.queryAll(qf)
	if err != nil {
		return nil, err
	}
	r := statusReply(200, "OK")
	r.Entries = objects(ms)
	return r, nil
}

func objects(ms []*jsv.Object) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// authorizeProtocolsQuery is ProtocolsQuery.authorize.
func (h *handler) authorizeProtocolsQuery(q *msg) error {
	if q.hasAuthor && q.author == h.tenant {
		return nil
	}
	if gid, ok := q.payloadStr("permissionGrantId"); q.hasAuthor && ok && gid != "" {
		g, err := h.fetchGrant(gid)
		if err != nil {
			return err
		}
		return h.grantAuthorizeProtocolsQuery(q.raw, h.tenant, q.author, g)
	}
	return newError(CodeProtocolsQueryUnauthorized, "The ProtocolsQuery failed authorization")
}

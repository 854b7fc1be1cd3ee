package dwn

import (
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/internal/jsonschema"
	"github.com/datomspace/datomspace/dwn/jsv"
)

// Protocol rules: dwn-sdk-js's ProtocolAuthorization.

// fetchProtocolDefinition returns the definition of the newest ProtocolsConfigure for uri.
func (h *handler) fetchProtocolDefinition(uri string, present bool) (*jsv.Object, error) {
	if present && uri == PermissionsProtocol {
		return permissionsDefinition, nil
	}
	var protos []*jsv.Object
	if present {
		var err error
		if protos, err = h.queryAll(filter("interface", InterfaceProtocols, "method", MethodConfigure, "protocol", uri)); err != nil {
			return nil, err
		}
	}
	if len(protos) == 0 {
		return nil, newError(CodeProtocolAuthorizationProtocolNotFound, "unable to find protocol definition for "+jsString(uri, present))
	}
	return getObj(getObj(protos[0], "descriptor"), "definition"), nil
}

// fetchInitialWriteOf is ProtocolAuthorization.fetchInitialWrite.
func (h *handler) fetchInitialWriteOf(recordID string) (*jsv.Object, error) {
	ms, err := h.queryAll(filter("interface", InterfaceRecords, "method", MethodWrite, "recordId", recordID))
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return initialWriteOf(ms)
}

// recordChain is ProtocolAuthorization.constructRecordChain: the initial writes from the root
// down to recordID.
func (h *handler) recordChain(recordID string, present bool) ([]*jsv.Object, error) {
	if !present {
		return nil, nil
	}
	var chain []*jsv.Object
	cur, has := recordID, true
	for has {
		w, err := h.fetchInitialWriteOf(cur)
		if err != nil {
			return nil, err
		}
		if w == nil {
			return nil, newError(CodeProtocolAuthorizationParentNotFoundConstructingRecordChain, fmt.Sprintf("Unexpected error that should never trigger: no parent found with ID %s when constructing record chain.", cur))
		}
		chain = append(chain, w)
		cur, has = getStr(getObj(w, "descriptor"), "parentId")
		if len(chain) > 1000 {
			return nil, jsError("record chain too long")
		}
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// ruleSetAt is getRuleSetAtProtocolPath.
func ruleSetAt(path string, def *jsv.Object) *jsv.Object {
	cur := getObj(def, "structure")
	for _, seg := range strings.Split(path, "/") {
		next, ok := cur.Get(seg)
		if !ok {
			return nil
		}
		o, isObj := next.(*jsv.Object)
		if !isObj {
			// an array or primitive rule "set" has no $actions; an empty one behaves alike
			o = jsv.NewObject()
		}
		cur = o
	}
	return cur
}

func ruleSet(path string, def *jsv.Object) (*jsv.Object, error) {
	rs := ruleSetAt(path, def)
	if rs == nil {
		return nil, newError(CodeProtocolAuthorizationMissingRuleSet, "No rule set defined for protocolPath "+path)
	}
	return rs, nil
}

// validateReferentialIntegrity is ProtocolAuthorization.validateReferentialIntegrity.
func (h *handler) validateReferentialIntegrity(w *recordsWrite) error {
	proto, _ := w.protocol()
	def, err := h.fetchProtocolDefinition(proto, true)
	if err != nil {
		return err
	}
	if err := verifyType(w.raw, getObj(def, "types")); err != nil {
		return err
	}
	if err := h.verifyProtocolPathAndContextID(w); err != nil {
		return err
	}
	rs, err := ruleSet(strOr(w.desc, "protocolPath"), def)
	if err != nil {
		return err
	}
	if err := h.verifyAsRoleRecordIfNeeded(w, rs); err != nil {
		return err
	}
	if err := verifySizeLimit(w, rs); err != nil {
		return err
	}
	return verifyTagsIfNeeded(w, rs)
}

func verifyType(raw *jsv.Object, types *jsv.Object) error {
	d := getObj(raw, "descriptor")
	path := strOr(d, "protocolPath")
	typeName := lastPathSegment(path)
	tv, ok := types.Get(typeName)
	if !ok {
		return newError(CodeProtocolAuthorizationInvalidType, fmt.Sprintf("record with type %s not allowed in protocol", typeName))
	}
	t, _ := tv.(*jsv.Object)
	if ts, has := t.Get("schema"); has {
		s, sok := d.Get("schema")
		if !sok || !jsv.StrictEqual(ts, s) {
			return newError(CodeProtocolAuthorizationInvalidSchema, fmt.Sprintf("type '%s' must have schema '%s',         instead has '%s'", typeName, jsString(ts, true), jsString(s, sok)))
		}
	}
	if dfs, has := t.Get("dataFormats"); has {
		df, _ := d.Get("dataFormat")
		found := false
		arr, _ := dfs.([]any)
		for _, e := range arr {
			if jsv.StrictEqual(e, df) {
				found = true
			}
		}
		if !found {
			return newError(CodeProtocolAuthorizationIncorrectDataFormat, fmt.Sprintf("type '%s' must have data format in (%s),         instead has '%s'", typeName, jsString(dfs, true), jsString(df, true)))
		}
	}
	return nil
}

func (h *handler) verifyProtocolPathAndContextID(w *recordsWrite) error {
	declared := strOr(w.desc, "protocolPath")
	typeName := lastPathSegment(declared)
	parentID, hasParent := getStr(w.desc, "parentId")
	if !hasParent {
		if declared != typeName {
			return newError(CodeProtocolAuthorizationParentlessIncorrectProtocolPath, fmt.Sprintf("Declared protocol path '%s' is not valid for records with no parent'.", declared))
		}
		return nil
	}
	proto, _ := w.protocol()
	parents, err := h.queryAll(filter("isLatestBaseState", true, "interface", InterfaceRecords, "method", MethodWrite, "protocol", proto, "recordId", parentID))
	if err != nil {
		return err
	}
	var parent *jsv.Object
	if len(parents) > 0 {
		parent = parents[0]
	} else if h.opts.ingested {
		if parent, err = h.deletedParent(parentID, proto); err != nil {
			return err
		}
	}
	parentPath, hasPath := getStr(getObj(parent, "descriptor"), "protocolPath")
	expected := jsString(parentPath, hasPath && parent != nil) + "/" + typeName
	if expected != declared {
		return newError(CodeProtocolAuthorizationIncorrectProtocolPath, fmt.Sprintf("Could not find matching parent record to verify declared protocol path '%s'.", declared))
	}
	pc, pok := parent.Get("contextId")
	want := jsString(pc, pok) + "/" + w.recordID()
	got, gok := w.raw.Get("contextId")
	if !gok || !jsv.StrictEqual(got, want) {
		return newError(CodeProtocolAuthorizationIncorrectContextId, fmt.Sprintf("Declared contextId '%s' is not the same as expected: '%s'.", jsString(got, gok), want))
	}
	return nil
}

// deletedParent returns, for an ingested child, the initial write of a parent whose newest
// message is a RecordsDelete without prune: on another node the child may have been written
// before the delete arrived, and a delete without prune leaves children in place.
func (h *handler) deletedParent(parentID, proto string) (*jsv.Object, error) {
	all, err := h.queryAll(filter("interface", InterfaceRecords, "recordId", parentID))
	if err != nil || len(all) == 0 {
		return nil, err
	}
	newest, err := newestMessage(all)
	if err != nil {
		return nil, err
	}
	if isRecordsWrite(newest) || isTrue(getObj(newest, "descriptor"), "prune") {
		return nil, nil
	}
	iw, err := initialWriteOf(all)
	if err != nil {
		return nil, err
	}
	if strOr(getObj(iw, "descriptor"), "protocol") != proto {
		return nil, nil
	}
	return iw, nil
}

func verifySizeLimit(w *recordsWrite, rs *jsv.Object) error {
	size, _ := getNum(w.desc, "dataSize")
	lo, hi := 0.0, 0.0
	hasMax := false
	if sz := getObj(rs, "$size"); sz != nil {
		if v, ok := getNum(sz, "min"); ok {
			lo = v
		}
		hi, hasMax = getNum(sz, "max")
	}
	if size < lo {
		return newError(CodeProtocolAuthorizationMinSizeInvalid, fmt.Sprintf("data size %s is less than allowed %s", jsv.NumberString(size), jsv.NumberString(lo)))
	}
	if hasMax && size > hi {
		return newError(CodeProtocolAuthorizationMaxSizeInvalid, fmt.Sprintf("data size %s is more than allowed %s", jsv.NumberString(size), jsv.NumberString(hi)))
	}
	return nil
}

func verifyTagsIfNeeded(w *recordsWrite, rs *jsv.Object) error {
	tagsRule := getObj(rs, "$tags")
	if tagsRule == nil {
		return nil
	}
	tags := getObj(w.desc, "tags")
	if tags == nil {
		tags = jsv.NewObject()
	}
	allowUndefined := jsv.Truthy(valueOf(tagsRule, "$allowUndefinedTags"))
	var required []any
	if r, ok := tagsRule.Get("$requiredTags"); ok && jsv.Truthy(r) {
		required, _ = r.([]any)
	}
	props := jsv.NewObject()
	for _, k := range tagsRule.Keys() {
		if k == "$allowUndefinedTags" || k == "$requiredTags" {
			continue
		}
		v, _ := tagsRule.Get(k)
		props.Set(k, v)
	}
	schemaDoc := jsv.NewObject()
	schemaDoc.Set("type", "object")
	schemaDoc.Set("properties", props)
	schemaDoc.Set("required", append([]any{}, required...))
	schemaDoc.Set("additionalProperties", allowUndefined)
	s, err := jsonschema.Compile(schemaDoc)
	if err != nil {
		return jsError(err.Error())
	}
	if errs := jsonschema.Validate(nil, s, tags); len(errs) > 0 {
		proto, _ := w.protocol()
		dataVar := proto + "/" + strOr(w.desc, "protocolPath") + "/$tags"
		return newError(CodeProtocolAuthorizationTagsInvalidSchema, "tags schema validation error: "+jsonschema.ErrorsText(errs, dataVar))
	}
	return nil
}

func (h *handler) verifyAsRoleRecordIfNeeded(w *recordsWrite, rs *jsv.Object) error {
	if !jsv.Truthy(valueOf(rs, "$role")) {
		return nil
	}
	recipient, ok := getStr(w.desc, "recipient")
	if !ok {
		return newError(CodeProtocolAuthorizationRoleMissingRecipient, "Role records must have a recipient")
	}
	proto, _ := w.protocol()
	path := strOr(w.desc, "protocolPath")
	f := filter("interface", InterfaceRecords, "method", MethodWrite, "isLatestBaseState", true, "protocol", proto, "protocolPath", path, "recipient", recipient)
	parentCtx, _ := parentContextOf(getStr(w.raw, "contextId"))
	if parentCtx != "" {
		f.Set("contextId", prefixRange(parentCtx))
	}
	ms, err := h.queryAll(f)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if strOr(m, "recordId") != w.recordID() {
			return newError(CodeProtocolAuthorizationDuplicateRoleRecipient, fmt.Sprintf("DID '%s' is already recipient of a role record at protocol path '%s under the parent context %s.", recipient, path, parentCtx))
		}
	}
	return nil
}

// authorizeWrite is ProtocolAuthorization.authorizeWrite.
func (h *handler) authorizeProtocolWrite(w *recordsWrite) error {
	existing, err := h.fetchInitialWriteOf(w.recordID())
	if err != nil {
		return err
	}
	var chain []*jsv.Object
	if existing == nil {
		pid, ok := getStr(w.desc, "parentId")
		chain, err = h.recordChain(pid, ok)
	} else {
		chain, err = h.recordChain(w.recordID(), true)
	}
	if err != nil {
		return err
	}
	proto, _ := w.protocol()
	def, err := h.fetchProtocolDefinition(proto, true)
	if err != nil {
		return err
	}
	rs, err := ruleSet(strOr(w.desc, "protocolPath"), def)
	if err != nil {
		return err
	}
	ctxID, hasCtx := getStr(w.raw, "contextId")
	if err := h.verifyInvokedRole(w.msg, proto, ctxID, hasCtx, def); err != nil {
		return err
	}
	return h.authorizeAgainstAllowedActions(w.msg, w, rs, chain)
}

// authorizeProtocolRead is ProtocolAuthorization.authorizeRead.
func (h *handler) authorizeProtocolRead(read *msg, newest *recordsWrite) error {
	chain, err := h.recordChain(newest.recordID(), true)
	if err != nil {
		return err
	}
	proto, _ := newest.protocol()
	def, err := h.fetchProtocolDefinition(proto, true)
	if err != nil {
		return err
	}
	rs, err := ruleSet(strOr(newest.desc, "protocolPath"), def)
	if err != nil {
		return err
	}
	ctxID, hasCtx := getStr(newest.raw, "contextId")
	if err := h.verifyInvokedRole(read, proto, ctxID, hasCtx, def); err != nil {
		return err
	}
	return h.authorizeAgainstAllowedActions(read, nil, rs, chain)
}

// authorizeProtocolQuery is ProtocolAuthorization.authorizeQueryOrSubscribe.
func (h *handler) authorizeProtocolQuery(q *msg) error {
	f := getObj(q.desc, "filter")
	proto, hasProto := getStr(f, "protocol")
	def, err := h.fetchProtocolDefinition(proto, hasProto)
	if err != nil {
		return err
	}
	rs, err := ruleSet(strOr(f, "protocolPath"), def)
	if err != nil {
		return err
	}
	ctxID, hasCtx := getStr(f, "contextId")
	if err := h.verifyInvokedRole(q, proto, ctxID, hasCtx, def); err != nil {
		return err
	}
	return h.authorizeAgainstAllowedActions(q, nil, rs, nil)
}

// authorizeProtocolDelete is ProtocolAuthorization.authorizeDelete.
func (h *handler) authorizeProtocolDelete(del *msg, write *recordsWrite) error {
	chain, err := h.recordChain(strOr(del.desc, "recordId"), true)
	if err != nil {
		return err
	}
	proto, _ := write.protocol()
	def, err := h.fetchProtocolDefinition(proto, true)
	if err != nil {
		return err
	}
	rs, err := ruleSet(strOr(write.desc, "protocolPath"), def)
	if err != nil {
		return err
	}
	ctxID, hasCtx := getStr(write.raw, "contextId")
	if err := h.verifyInvokedRole(del, proto, ctxID, hasCtx, def); err != nil {
		return err
	}
	return h.authorizeAgainstAllowedActions(del, nil, rs, chain)
}

func (h *handler) verifyInvokedRole(in *msg, proto string, ctxID string, hasCtx bool, def *jsv.Object) error {
	role, ok := in.payloadStr("protocolRole")
	if !ok {
		return nil
	}
	rrs := ruleSetAt(role, def)
	if rrs == nil || !jsv.Truthy(valueOf(rrs, "$role")) {
		return newError(CodeProtocolAuthorizationNotARole, fmt.Sprintf("Protocol path %s does not match role record type.", role))
	}
	f := filter("interface", InterfaceRecords, "method", MethodWrite, "protocol", proto, "protocolPath", role, "recipient", in.author, "isLatestBaseState", true)
	ancestors := len(strings.Split(role, "/")) - 1
	if !hasCtx && ancestors > 0 {
		return newError(CodeProtocolAuthorizationMissingContextId, "Could not verify role because contextId is missing.")
	}
	if ancestors > 0 {
		segs := strings.Split(ctxID, "/")
		if ancestors < len(segs) {
			segs = segs[:ancestors]
		}
		f.Set("contextId", prefixRange(strings.Join(segs, "/")))
	}
	ms, err := h.queryAll(f)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return newError(CodeProtocolAuthorizationMatchingRoleRecordNotFound, "No matching role record found for protocol path "+role)
	}
	return nil
}

func (h *handler) actionsSeekingMatch(in *msg, w *recordsWrite) ([]string, error) {
	switch in.method() {
	case MethodDelete:
		iw, err := h.fetchInitialRecordsWrite(strOr(in.desc, "recordId"))
		if err != nil || iw == nil {
			return nil, err
		}
		if isTrue(in.desc, "prune") {
			acts := []string{"co-prune"}
			if in.author == iw.author {
				acts = append(acts, "prune")
			}
			return acts, nil
		}
		acts := []string{"co-delete"}
		if in.author == iw.author {
			acts = append(acts, "delete")
		}
		return acts, nil
	case MethodQuery:
		return []string{"query"}, nil
	case MethodRead:
		return []string{"read"}, nil
	case MethodSubscribe:
		return []string{"subscribe"}, nil
	case MethodWrite:
		initial, err := w.isInitialWrite()
		if err != nil {
			return nil, err
		}
		if initial {
			return []string{"create"}, nil
		}
		iw, err := h.fetchInitialRecordsWrite(w.recordID())
		if err != nil || iw == nil {
			return nil, err
		}
		if in.author == iw.author {
			return []string{"co-update", "update"}, nil
		}
		return []string{"co-update"}, nil
	}
	return nil, nil
}

// fetchInitialRecordsWrite is RecordsWrite.fetchInitialRecordsWrite: the message indexed with the
// recordId as its entryId, parsed.
func (h *handler) fetchInitialRecordsWrite(recordID string) (*recordsWrite, error) {
	m, err := h.fetchInitialRecordsWriteMessage(recordID)
	if err != nil || m == nil {
		return nil, err
	}
	return parseRecordsWrite(m)
}

func (h *handler) fetchInitialRecordsWriteMessage(recordID string) (*jsv.Object, error) {
	ms, err := h.queryAll(filter("entryId", recordID))
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return ms[0], nil
}

func (h *handler) authorizeAgainstAllowedActions(in *msg, w *recordsWrite, rs *jsv.Object, chain []*jsv.Object) error {
	method := in.method()
	acts, err := h.actionsSeekingMatch(in, w)
	if err != nil {
		return err
	}
	author := in.author
	rules, ok := rs.Get("$actions")
	if !ok {
		return newError(CodeProtocolAuthorizationActionRulesNotFound, fmt.Sprintf("no action rule defined for Records%s, %s is unauthorized", method, jsString(author, in.hasAuthor)))
	}
	role, hasRole := in.payloadStr("protocolRole")
	ruleList, _ := rules.([]any)
	for _, r := range ruleList {
		rule, _ := r.(*jsv.Object)
		matches := false
		for _, c := range getArr(rule, "can") {
			cs, _ := c.(string)
			for _, a := range acts {
				if cs == a {
					matches = true
				}
			}
		}
		if !matches {
			continue
		}
		who, _ := getStr(rule, "who")
		if who == "anyone" {
			return nil
		}
		if !in.hasAuthor {
			continue
		}
		if hasRole {
			if rr, ok := getStr(rule, "role"); ok && rr == role {
				return nil
			}
			continue
		}
		_, hasOf := rule.Get("of")
		if who == "recipient" && !hasOf {
			var target *jsv.Object
			if method == MethodWrite {
				target = in.raw
			} else if len(chain) > 0 {
				target = chain[len(chain)-1]
			}
			if rcp, ok := getStr(getObj(target, "descriptor"), "recipient"); ok && rcp == author {
				return nil
			}
			continue
		}
		ok, err := checkActor(author, rule, chain)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return newError(CodeProtocolAuthorizationActionNotAllowed, fmt.Sprintf("Inbound message action Records%s by author %s not allowed.", method, jsString(author, in.hasAuthor)))
}

func checkActor(author string, rule *jsv.Object, chain []*jsv.Object) (bool, error) {
	of, _ := rule.Get("of")
	var anc *jsv.Object
	for _, w := range chain {
		if p, ok := getObj(w, "descriptor").Get("protocolPath"); ok && jsv.StrictEqual(p, of) {
			anc = w
			break
		}
	}
	if anc == nil {
		return false, nil
	}
	if strOr(rule, "who") == "recipient" {
		r, ok := getStr(getObj(anc, "descriptor"), "recipient")
		return ok && r == author, nil
	}
	aw, err := parseRecordsWrite(anc)
	if err != nil {
		return false, err
	}
	return aw.author == author, nil
}

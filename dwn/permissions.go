package dwn

import (
	"fmt"
	"strings"

	"github.com/datomspace/datomspace/dwn/jsv"
)

// PermissionsProtocol is the protocol under which permission requests, grants and revocations
// are records.
const PermissionsProtocol = "https://tbd.website/dwn/permissions"

const (
	permissionsRequestPath    = "request"
	permissionsGrantPath      = "grant"
	permissionsRevocationPath = "grant/revocation"
)

// permissionsDefinition is PermissionsProtocol.definition.
var permissionsDefinition = mustParse(`{"published":true,"protocol":"https://tbd.website/dwn/permissions",
"types":{"request":{"dataFormats":["application/json"]},"grant":{"dataFormats":["application/json"]},"revocation":{"dataFormats":["application/json"]}},
"structure":{"request":{"$size":{"max":10000},"$actions":[{"who":"anyone","can":["create"]}]},
"grant":{"$size":{"max":10000},"$actions":[{"who":"recipient","of":"grant","can":["read","query"]}],
"revocation":{"$size":{"max":10000},"$actions":[{"who":"anyone","can":["read"]}]}}}}`)

func mustParse(s string) *jsv.Object {
	v, err := jsv.Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return v.(*jsv.Object)
}

// permissionGrant is dwn-sdk-js's PermissionGrant, read from a grant record with encodedData.
type permissionGrant struct {
	id          string
	grantor     string
	grantee     any // descriptor.recipient, possibly absent
	hasGrantee  bool
	dateGranted string
	dateExpires any
	delegated   any
	scope       *jsv.Object
	conditions  *jsv.Object
}

// parsePermissionGrant is PermissionGrant.parse.
func parsePermissionGrant(m *jsv.Object) (*permissionGrant, error) {
	g := &permissionGrant{id: strOr(m, "recordId")}
	var err error
	if g.grantor, err = signerOf(m); err != nil {
		return nil, err
	}
	d := getObj(m, "descriptor")
	g.grantee, g.hasGrantee = d.Get("recipient")
	g.dateGranted = strOr(d, "dateCreated")
	enc, ok := getStr(m, "encodedData")
	if !ok {
		return nil, jsError("Cannot read properties of undefined (reading 'length')")
	}
	v, err := base64URLToObject(enc)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*jsv.Object)
	if !ok {
		if v == nil {
			return nil, jsError("Cannot read properties of null (reading 'dateExpires')")
		}
		o = jsv.NewObject()
	}
	g.dateExpires, _ = o.Get("dateExpires")
	g.delegated, _ = o.Get("delegated")
	g.scope = getObj(o, "scope")
	g.conditions = getObj(o, "conditions")
	return g, nil
}

func (g *permissionGrant) scopeStr(k string) (string, bool) {
	if g.scope == nil {
		return "", false
	}
	return getStr(g.scope, k)
}

// hasProtocolScope is PermissionsProtocol.hasProtocolScope.
func hasProtocolScope(scope *jsv.Object) (string, bool) {
	if scope == nil {
		return "", false
	}
	v, ok := scope.Get("protocol")
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	return s, isStr
}

// fetchGrant is PermissionsProtocol.fetchGrant.
func (h *handler) fetchGrant(grantID string) (*permissionGrant, error) {
	ms, err := h.queryAll(filter("recordId", grantID, "isLatestBaseState", true))
	if err != nil {
		return nil, err
	}
	var m *jsv.Object
	if len(ms) > 0 {
		m = ms[0]
	}
	if m == nil || !isRecordsWrite(m) || strOr(getObj(m, "descriptor"), "protocolPath") != permissionsGrantPath {
		return nil, newError(CodeGrantAuthorizationGrantMissing, fmt.Sprintf("Could not find permission grant with record ID %s.", grantID))
	}
	return parsePermissionGrant(m)
}

// validatePermissionsSchema is PermissionsProtocol.validateSchema, run on inline data of a
// permissions record. A data that is not JSON throws a SyntaxError, which dwn-sdk-js does not
// turn into a reply.
func validatePermissionsSchema(m *jsv.Object, data []byte) (bool, error) {
	v, err := jsv.Parse([]byte(strings.ToValidUTF8(string(data), "\uFFFD")))
	if err != nil {
		return true, jsError(err.Error())
	}
	d := getObj(m, "descriptor")
	path := strOr(d, "protocolPath")
	o, _ := v.(*jsv.Object)
	switch path {
	case permissionsRequestPath:
		if err := validateJSONSchema("PermissionRequestData", v); err != nil {
			return false, err
		}
		return false, validateScopeAndTags(getObj(o, "scope"), m)
	case permissionsGrantPath:
		if err := validateJSONSchema("PermissionGrantData", v); err != nil {
			return false, err
		}
		if err := validateScopeAndTags(getObj(o, "scope"), m); err != nil {
			return false, err
		}
		return false, validateTimestamp(strOr(o, "dateExpires"))
	case permissionsRevocationPath:
		return false, validateJSONSchema("PermissionRevocationData", v)
	}
	return false, newError(CodePermissionsProtocolValidateSchemaUnexpectedRecord, "Unexpected permission record: "+path)
}

func validateScopeAndTags(scope *jsv.Object, m *jsv.Object) error {
	if p, ok := hasProtocolScope(scope); ok {
		if err := validateProtocolURLNormalized(p, true); err != nil {
			return err
		}
		tags := getObj(getObj(m, "descriptor"), "tags")
		tp, has := tags.Get("protocol")
		if tags == nil || !has {
			return newError(CodePermissionsProtocolValidateScopeMissingProtocolTag, "Permission grants must have a `tags` property that contains a protocol tag")
		}
		if !jsv.StrictEqual(tp, p) {
			return newError(CodePermissionsProtocolValidateScopeProtocolMismatch, "Permission grants must have a scope with a protocol that matches the tagged protocol: "+jsString(tp, true))
		}
	}
	if strOr(scope, "interface") != InterfaceRecords {
		return nil
	}
	if scope.Has("contextId") && scope.Has("protocolPath") {
		return newError(CodePermissionsProtocolValidateScopeContextIdProhibitedProperties, "Permission grants cannot have both `contextId` and `protocolPath` present")
	}
	return nil
}

// scopeFromPermissionRecord is PermissionsProtocol.getScopeFromPermissionRecord.
func (h *handler) scopeFromPermissionRecord(m *jsv.Object) (*jsv.Object, error) {
	d := getObj(m, "descriptor")
	if p := strOr(d, "protocol"); p != PermissionsProtocol {
		return nil, newError(CodePermissionsProtocolGetScopeInvalidProtocol, "Unexpected protocol for permission record: "+jsStr(d, "protocol"))
	}
	switch strOr(d, "protocolPath") {
	case permissionsRevocationPath:
		g, err := h.fetchGrant(strOr(d, "parentId"))
		if err != nil {
			return nil, err
		}
		return g.scope, nil
	default:
		// a grant or a request: the scope is in the data
		enc, ok := getStr(m, "encodedData")
		if !ok {
			return nil, jsError("Cannot read properties of undefined (reading 'length')")
		}
		v, err := base64URLToObject(enc)
		if err != nil {
			return nil, err
		}
		o, _ := v.(*jsv.Object)
		return getObj(o, "scope"), nil
	}
}

package dwn

import (
	js "github.com/datomspace/datomspace/dwn/internal/jsonschema"
)

// The JSON schemas dwn-sdk-js 0.5.2 validates messages against, written out for the jsonschema
// package. Names are those of dwn-sdk-js's precompiled validators, so that a message whose
// interface and method name a schema is checked against that schema, as dwn-sdk-js does.

type sch = js.Schema
type prop = js.Property

func tStr() *sch                    { return &sch{Types: []string{"string"}} }
func tNum() *sch                    { return &sch{Types: []string{"number"}} }
func tBool() *sch                   { return &sch{Types: []string{"boolean"}} }
func ref(name string) *sch          { return &sch{Ref: name} }
func p(name string, s *sch) prop    { return prop{Name: name, Schema: s} }
func enumOf(vals ...any) []any      { return vals }
func strEnum(vals ...any) *sch      { return &sch{Types: []string{"string"}, Enum: vals} }
func required(names ...string) *sch { return &sch{Required: names} }
func notRequired(name string) *sch  { return &sch{Not: required(name)} }
func pat(src string) *js.Pattern    { return js.NewPattern(src) }
func constOf(v any) *sch            { return &sch{Const: v, HasConst: true} }

var falseSchema = &sch{False: true}

// notDollarTags matches tag names other than $requiredTags and $allowUndefinedTags, which is what
// the reference's lookahead pattern ^(?!\$requiredTags$|\$allowUndefinedTags$).*$ does.
var notDollarTags = &js.Pattern{
	Source: `^(?!\$requiredTags$|\$allowUndefinedTags$).*$`,
	Match: func(k string) bool {
		if k == "$requiredTags" || k == "$allowUndefinedTags" {
			return false
		}
		for _, r := range k { // ".*$" without the s flag: no line terminators
			if r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029 {
				return false
			}
		}
		return true
	},
}

func rangeFilter(t string) *sch {
	typ := func() *sch { return &sch{Types: []string{t}} }
	return &sch{
		Types:                []string{"object"},
		MinProperties:        js.I(1),
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("gt", typ()), p("gte", typ()), p("lt", typ()), p("lte", typ())},
		Dependencies: []js.Dependency{
			{Property: "gt", Schema: notRequired("gte")},
			{Property: "gte", Schema: notRequired("gt")},
			{Property: "lt", Schema: notRequired("lte")},
			{Property: "lte", Schema: notRequired("lt")},
		},
	}
}

func dateRange() *sch {
	return &sch{
		Types:                []string{"object"},
		MinProperties:        js.I(1),
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("from", ref("defs/date-time")), p("to", ref("defs/date-time"))},
	}
}

func descriptorHead(iface, method string) []prop {
	return []prop{p("interface", strEnum(iface)), p("method", strEnum(method))}
}

func scope(iface, method string, records bool) *sch {
	props := []prop{p("interface", constOf(iface)), p("method", constOf(method)), p("protocol", tStr())}
	if records {
		props = append(props, p("contextId", tStr()), p("protocolPath", tStr()))
	}
	return &sch{Types: []string{"object"}, AdditionalProperties: falseSchema, Required: []string{"interface", "method"}, Properties: props}
}

func tagValueFilter() *sch {
	return &sch{OneOf: []*sch{
		tStr(), tNum(), tBool(),
		{Types: []string{"object"}, MinProperties: js.I(1), AdditionalProperties: falseSchema, Properties: []prop{p("startsWith", tStr())}},
		ref("StringRangeFilter"), ref("NumberRangeFilter"),
	}}
}

func tagSchemaKeywords() *js.Pattern {
	return pat(`^(enum|minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength)$`)
}

// schemas is the registry; it is built once.
var schemas = buildSchemas()

func buildSchemas() js.Registry {
	r := js.Registry{}

	r["defs/base64url"] = &sch{Types: []string{"string"}, Pattern: pat(`^[A-Za-z0-9_-]+$`)}
	r["defs/uuid"] = &sch{Types: []string{"string"}, Pattern: pat(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)}
	r["defs/did"] = &sch{Types: []string{"string"}, Pattern: pat(`^did:([a-z0-9]+):((?:(?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))*:)*((?:[a-zA-Z0-9._-]|(?:%[0-9a-fA-F]{2}))+))((;[a-zA-Z0-9_.:%-]+=[a-zA-Z0-9_.:%-]*)*)(/[^#?]*)?([?][^#]*)?(#.*)?$`)}
	r["defs/date-time"] = &sch{Types: []string{"string"}, Pattern: pat(`^\d{4}-[0-1]\d-[0-3]\dT(?:[0-2]\d:[0-5]\d:[0-5]\d|23:59:60)\.\d{6}Z$`)}
	r["Definitions"] = &sch{Types: []string{"object"}}

	r["GeneralJws"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties: []prop{
			p("payload", ref("defs/base64url")),
			p("signatures", &sch{
				Types:    []string{"array"},
				MinItems: js.I(1),
				Items: &sch{Types: []string{"object"}, Properties: []prop{
					p("protected", ref("defs/base64url")),
					p("signature", ref("defs/base64url")),
				}},
			}),
		},
	}

	r["Authorization"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("signature", ref("GeneralJws"))},
	}
	r["AuthorizationDelegatedGrant"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties: []prop{
			p("signature", ref("GeneralJws")),
			p("authorDelegatedGrant", ref("RecordsWriteDataEncoded")),
		},
	}
	r["AuthorizationOwner"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties: []prop{
			p("signature", ref("GeneralJws")),
			p("authorDelegatedGrant", ref("RecordsWriteDataEncoded")),
			p("ownerSignature", ref("GeneralJws")),
			p("ownerDelegatedGrant", ref("RecordsWriteDataEncoded")),
		},
		Dependencies: []js.Dependency{{Property: "ownerSignature", Required: []string{"signature"}}},
	}

	r["GenericSignaturePayload"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"descriptorCid"},
		Properties: []prop{
			p("descriptorCid", tStr()), p("delegatedGrantId", tStr()),
			p("permissionGrantId", tStr()), p("protocolRole", tStr()),
		},
	}
	r["RecordsWriteSignaturePayload"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"descriptorCid", "recordId"},
		Properties: []prop{
			p("descriptorCid", tStr()), p("recordId", tStr()), p("contextId", tStr()),
			p("attestationCid", tStr()), p("encryptionCid", tStr()), p("delegatedGrantId", tStr()),
			p("permissionGrantId", tStr()), p("protocolRole", tStr()),
		},
	}

	r["GeneralJwk"] = &sch{
		Types:    []string{"object"},
		Required: []string{"kty"},
		Properties: []prop{
			p("alg", tStr()), p("kid", tStr()), p("kty", &sch{Enum: enumOf("EC", "RSA", "oct", "OKP")}),
			p("crv", tStr()), p("use", tStr()), p("key_ops", tStr()), p("x5u", tStr()),
			p("x5c", tStr()), p("x5t", tStr()), p("x5t#S256", tStr()),
		},
		OneOf: []*sch{
			{Properties: []prop{p("kty", constOf("EC")), p("crv", tStr()), p("x", tStr()), p("y", tStr()), p("d", tStr())}, Required: []string{"crv", "x"}},
			{Properties: []prop{p("kty", constOf("OKP")), p("crv", tStr()), p("x", tStr()), p("d", tStr())}, Required: []string{"crv", "x"}},
			{Properties: []prop{
				p("kty", constOf("RSA")), p("n", tStr()), p("e", tStr()), p("d", tStr()), p("p", tStr()), p("q", tStr()),
				p("dp", tStr()), p("dq", tStr()), p("qi", tStr()), p("oth", &sch{Types: []string{"object"}}),
			}, Required: []string{"n", "e"}},
			{Properties: []prop{p("kty", constOf("oct")), p("k", tStr())}, Required: []string{"k"}},
		},
	}
	r["PublicJwk"] = &sch{
		Ref: "GeneralJwk",
		Not: &sch{AnyOf: []*sch{
			{Types: []string{"object"}, Properties: []prop{p("kty", constOf("EC"))}, AnyOf: []*sch{required("d")}},
			{Types: []string{"object"}, Properties: []prop{p("kty", constOf("OKP"))}, AnyOf: []*sch{required("d")}},
			{Types: []string{"object"}, Properties: []prop{
				p("kty", constOf("RSA")), p("d", &sch{}), p("p", &sch{}), p("q", &sch{}), p("dp", &sch{}),
				p("dq", &sch{}), p("qi", &sch{}), p("oth", &sch{Types: []string{"object"}}),
			}, AnyOf: []*sch{required("d"), required("p"), required("q"), required("dp"), required("dq"), required("qi"), required("oth")}},
		}},
	}
	r["JwkVerificationMethod"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"id", "type", "controller", "publicKeyJwk"},
		Properties: []prop{
			p("id", tStr()),
			p("type", &sch{Enum: enumOf("JsonWebKey", "JsonWebKey2020")}),
			p("controller", ref("defs/did")),
			p("publicKeyJwk", ref("PublicJwk")),
		},
	}

	r["StringRangeFilter"] = rangeFilter("string")
	r["NumberRangeFilter"] = rangeFilter("number")
	r["PaginationCursor"] = &sch{
		Types:                []string{"object"},
		MinProperties:        js.I(1),
		AdditionalProperties: falseSchema,
		Required:             []string{"messageCid", "value"},
		Properties:           []prop{p("messageCid", tStr()), p("value", &sch{Types: []string{"string", "number"}})},
	}

	didOrDids := func() *sch {
		return &sch{OneOf: []*sch{ref("defs/did"), {Types: []string{"array"}, Items: ref("defs/did")}}}
	}
	r["RecordsFilter"] = &sch{
		Types:                []string{"object"},
		MinProperties:        js.I(1),
		AdditionalProperties: falseSchema,
		Properties: []prop{
			p("protocol", tStr()), p("protocolPath", tStr()),
			p("author", didOrDids()), p("attester", ref("defs/did")), p("recipient", didOrDids()),
			p("contextId", tStr()), p("schema", tStr()),
			p("tags", &sch{Types: []string{"object"}, MinProperties: js.I(1), AdditionalProperties: tagValueFilter()}),
			p("recordId", tStr()), p("parentId", tStr()), p("published", tBool()), p("dataFormat", tStr()),
			p("dataSize", ref("NumberRangeFilter")), p("dataCid", tStr()),
			p("dateCreated", dateRange()), p("datePublished", dateRange()), p("dateUpdated", dateRange()),
		},
		Dependencies: []js.Dependency{{Property: "datePublished", Schema: &sch{OneOf: []*sch{
			{Properties: []prop{p("published", &sch{Enum: enumOf(true)})}, Required: []string{"published"}},
			notRequired("published"),
		}}}},
	}

	r["RecordsWriteUnidentified"] = &sch{
		Types:    []string{"object"},
		Required: []string{"descriptor"},
		Properties: []prop{
			p("recordId", tStr()),
			p("contextId", &sch{Types: []string{"string"}, Pattern: pat(`^[a-zA-Z0-9]+(/[a-zA-Z0-9]+)*$`)}),
			p("attestation", ref("GeneralJws")),
			p("authorization", ref("AuthorizationOwner")),
			p("encryption", &sch{
				Types: []string{"object"},
				Properties: []prop{
					p("algorithm", strEnum("A256CTR")),
					p("initializationVector", ref("defs/base64url")),
					p("keyEncryption", &sch{
						Types:    []string{"array"},
						MinItems: js.I(1),
						Items: &sch{
							Types: []string{"object"},
							Properties: []prop{
								p("rootKeyId", tStr()),
								p("derivationScheme", strEnum("dataFormats", "protocolContext", "protocolPath", "schemas")),
								p("derivedPublicKey", ref("PublicJwk")),
								p("algorithm", strEnum("ECIES-ES256K")),
								p("encryptedKey", ref("defs/base64url")),
								p("initializationVector", ref("defs/base64url")),
								p("ephemeralPublicKey", ref("PublicJwk")),
								p("messageAuthenticationCode", ref("defs/base64url")),
							},
							AdditionalProperties: falseSchema,
							Required:             []string{"rootKeyId", "derivationScheme", "algorithm", "encryptedKey", "initializationVector", "ephemeralPublicKey", "messageAuthenticationCode"},
						},
					}),
				},
				AdditionalProperties: falseSchema,
				Required:             []string{"algorithm", "initializationVector", "keyEncryption"},
			}),
			p("descriptor", &sch{
				Types: []string{"object"},
				Properties: []prop{
					p("interface", strEnum("Records")),
					p("method", strEnum("Write")),
					p("recipient", ref("defs/did")),
					p("protocol", tStr()),
					p("protocolPath", &sch{Types: []string{"string"}, Pattern: pat(`^[a-zA-Z]+(/[a-zA-Z]+)*$`)}),
					p("schema", tStr()),
					p("tags", &sch{
						Types:         []string{"object"},
						MinProperties: js.I(1),
						MaxProperties: js.I(10),
						AdditionalProperties: &sch{OneOf: []*sch{
							tStr(), tNum(), tBool(),
							{Types: []string{"array"}, MinItems: js.I(1), MaxItems: js.I(10), Items: tStr()},
							{Types: []string{"array"}, MinItems: js.I(1), MaxItems: js.I(10), Items: tNum()},
						}},
					}),
					p("parentId", tStr()),
					p("dataCid", tStr()),
					p("dataSize", tNum()),
					p("dateCreated", ref("defs/date-time")),
					p("messageTimestamp", ref("defs/date-time")),
					p("published", tBool()),
					p("datePublished", ref("defs/date-time")),
					p("dataFormat", tStr()),
				},
				AdditionalProperties: falseSchema,
				Required:             []string{"interface", "method", "dataCid", "dataSize", "dateCreated", "messageTimestamp", "dataFormat"},
				Dependencies:         []js.Dependency{{Property: "parentId", Required: []string{"protocol"}}},
				AllOf: []*sch{{AnyOf: []*sch{
					{Properties: []prop{p("published", &sch{Types: []string{"boolean"}, Enum: enumOf(true)})}, Required: []string{"published", "datePublished"}},
					{Properties: []prop{p("published", &sch{Types: []string{"boolean"}, Enum: enumOf(false)})}, Not: required("datePublished")},
					{AllOf: []*sch{notRequired("published"), notRequired("datePublished")}},
				}}},
			}),
		},
		AnyOf: []*sch{
			{Properties: []prop{p("descriptor", &sch{Types: []string{"object"}, Required: []string{"protocol", "protocolPath"}})}, Required: []string{"contextId"}},
			{AllOf: []*sch{
				notRequired("contextId"),
				{Properties: []prop{p("descriptor", &sch{Types: []string{"object"}, Not: required("protocol")})}},
				{Properties: []prop{p("descriptor", &sch{Types: []string{"object"}, Not: required("protocolPath")})}},
			}},
		},
	}
	r["RecordsWrite"] = &sch{
		Ref:                        "RecordsWriteUnidentified",
		UnevaluatedPropertiesFalse: true,
		Types:                      []string{"object"},
		Required:                   []string{"recordId", "authorization"},
	}
	r["RecordsWriteDataEncoded"] = &sch{
		Ref:                        "RecordsWriteUnidentified",
		UnevaluatedPropertiesFalse: true,
		Types:                      []string{"object"},
		Required:                   []string{"recordId", "authorization", "encodedData"},
		Properties:                 []prop{p("encodedData", tStr())},
	}

	simpleMethod := func(iface, method string, authRef string, authRequired bool, extra ...prop) *sch {
		req := []string{"descriptor"}
		if authRequired {
			req = []string{"authorization", "descriptor"}
		}
		descRequired := []string{"interface", "method", "messageTimestamp"}
		for _, e := range extra {
			if requiredExtra[iface+method][e.Name] {
				descRequired = append(descRequired, e.Name)
			}
		}
		props := append(descriptorHead(iface, method), p("messageTimestamp", ref("defs/date-time")))
		props = append(props, extra...)
		return &sch{
			Types:                []string{"object"},
			AdditionalProperties: falseSchema,
			Required:             req,
			Properties: []prop{
				p("authorization", ref(authRef)),
				p("descriptor", &sch{Types: []string{"object"}, AdditionalProperties: falseSchema, Required: descRequired, Properties: props}),
			},
		}
	}

	r["RecordsQuery"] = simpleMethod("Records", "Query", "AuthorizationDelegatedGrant", false,
		p("filter", ref("RecordsFilter")),
		p("pagination", &sch{Types: []string{"object"}, AdditionalProperties: falseSchema, Properties: []prop{
			p("limit", &sch{Types: []string{"number"}, Minimum: js.F(1)}),
			p("cursor", ref("PaginationCursor")),
		}}),
		p("dateSort", strEnum("createdAscending", "createdDescending", "publishedAscending", "publishedDescending")),
	)
	r["RecordsRead"] = simpleMethod("Records", "Read", "AuthorizationDelegatedGrant", false, p("filter", ref("RecordsFilter")))
	r["RecordsSubscribe"] = simpleMethod("Records", "Subscribe", "AuthorizationDelegatedGrant", false, p("filter", ref("RecordsFilter")))
	r["RecordsDelete"] = simpleMethod("Records", "Delete", "AuthorizationDelegatedGrant", true, p("recordId", tStr()), p("prune", tBool()))

	r["MessagesFilter"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		MinProperties:        js.I(1),
		Properties: []prop{
			p("interface", strEnum("Protocols", "Records")),
			p("method", strEnum("Configure", "Delete", "Write")),
			p("protocol", tStr()),
			p("messageTimestamp", dateRange()),
		},
	}
	r["MessagesQuery"] = simpleMethod("Messages", "Query", "Authorization", true,
		p("filters", &sch{Types: []string{"array"}, Items: ref("MessagesFilter")}),
		p("cursor", ref("PaginationCursor")),
	)
	r["MessagesRead"] = simpleMethod("Messages", "Read", "Authorization", true, p("messageCid", tStr()))
	ms := simpleMethod("Messages", "Subscribe", "Authorization", true, p("filters", &sch{Types: []string{"array"}, Items: ref("MessagesFilter")}))
	// MessagesSubscribe lists "descriptor" before "authorization" as required, and its timestamp is
	// only a string.
	ms.Required = []string{"descriptor", "authorization"}
	ms.Properties[1].Schema.Properties[2] = p("messageTimestamp", tStr())
	r["MessagesSubscribe"] = ms

	r["ProtocolRuleSet"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties: []prop{
			p("$encryption", &sch{
				Types:                []string{"object"},
				AdditionalProperties: falseSchema,
				Properties:           []prop{p("rootKeyId", tStr()), p("publicKeyJwk", ref("PublicJwk"))},
				Required:             []string{"rootKeyId", "publicKeyJwk"},
			}),
			p("$actions", &sch{
				Types:    []string{"array"},
				MinItems: js.I(1),
				Items: &sch{
					Types: []string{"object"},
					OneOf: []*sch{
						{
							Required:             []string{"who", "can"},
							AdditionalProperties: falseSchema,
							Properties: []prop{
								p("who", strEnum("anyone", "author", "recipient")),
								p("of", tStr()),
								p("can", &sch{Types: []string{"array"}, MinItems: js.I(1), Items: strEnum("co-delete", "co-prune", "co-update", "create", "delete", "prune", "read", "update")}),
							},
						},
						{
							Required: []string{"role", "can"},
							Properties: []prop{
								p("role", tStr()),
								p("can", &sch{Types: []string{"array"}, MinItems: js.I(1), Items: strEnum("co-delete", "co-update", "create", "delete", "query", "subscribe", "read", "update")}),
							},
						},
					},
				},
			}),
			p("$role", tBool()),
			p("$size", &sch{
				Types:                []string{"object"},
				AdditionalProperties: falseSchema,
				Properties: []prop{
					p("min", &sch{Types: []string{"number"}, Minimum: js.F(0)}),
					p("max", &sch{Types: []string{"number"}, Minimum: js.F(0)}),
				},
			}),
			p("$tags", &sch{
				Types:         []string{"object"},
				MinProperties: js.I(1),
				Properties: []prop{
					p("$requiredTags", &sch{Types: []string{"array"}, Items: tStr()}),
					p("$allowUndefinedTags", tBool()),
				},
				PatternProperties: []js.PatternProperty{{Pattern: notDollarTags, Schema: &sch{
					Types:                []string{"object"},
					AdditionalProperties: falseSchema,
					Properties: []prop{
						p("type", &sch{Enum: enumOf("string", "number", "integer", "boolean", "array")}),
						p("items", &sch{
							Types:             []string{"object"},
							Properties:        []prop{p("type", &sch{Enum: enumOf("string", "number", "integer")})},
							PatternProperties: []js.PatternProperty{{Pattern: tagSchemaKeywords(), Schema: &sch{}}},
						}),
						p("contains", &sch{
							Types:             []string{"object"},
							Properties:        []prop{p("type", &sch{Enum: enumOf("string", "number", "integer")})},
							PatternProperties: []js.PatternProperty{{Pattern: tagSchemaKeywords(), Schema: &sch{}}},
						}),
					},
					PatternProperties: []js.PatternProperty{{
						Pattern: pat(`^(enum|minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|minItems|maxItems|uniqueItems|minContains|maxContains)$`),
						Schema:  &sch{},
					}},
				}}},
			}),
		},
		PatternProperties: []js.PatternProperty{{Pattern: pat(`^[^$].*$`), Schema: ref("ProtocolRuleSet")}},
	}
	r["ProtocolDefinition"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"protocol", "published", "types", "structure"},
		Properties: []prop{
			p("protocol", tStr()),
			p("published", tBool()),
			p("types", &sch{Types: []string{"object"}, PatternProperties: []js.PatternProperty{{Pattern: pat(`.*`), Schema: &sch{
				Types:                []string{"object"},
				AdditionalProperties: falseSchema,
				Properties: []prop{
					p("schema", tStr()),
					p("dataFormats", &sch{Types: []string{"array"}, MinItems: js.I(1), Items: tStr()}),
				},
			}}}}),
			p("structure", &sch{Types: []string{"object"}, PatternProperties: []js.PatternProperty{{Pattern: pat(`.*`), Schema: ref("ProtocolRuleSet")}}}),
		},
	}
	r["ProtocolsConfigure"] = simpleMethod("Protocols", "Configure", "AuthorizationDelegatedGrant", true, p("definition", ref("ProtocolDefinition")))
	r["ProtocolsQuery"] = simpleMethod("Protocols", "Query", "Authorization", false, p("filter", &sch{
		Types:                []string{"object"},
		MinProperties:        js.I(1),
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("protocol", tStr()), p("recipient", ref("defs/did"))},
	}))

	r["PermissionsDefinitions"] = &sch{Types: []string{"object"}}
	r["permissions/scope"] = &sch{OneOf: []*sch{
		ref("permissions/messages-query-scope"), ref("permissions/messages-read-scope"), ref("permissions/messages-subscribe-scope"),
		ref("permissions/protocols-configure-scope"), ref("permissions/protocols-query-scope"), ref("permissions/records-read-scope"),
		ref("permissions/records-delete-scope"), ref("permissions/records-write-scope"), ref("permissions/records-query-scope"),
		ref("permissions/records-subscribe-scope"),
	}}
	r["permissions/messages-query-scope"] = scope("Messages", "Query", false)
	r["permissions/messages-read-scope"] = scope("Messages", "Read", false)
	r["permissions/messages-subscribe-scope"] = scope("Messages", "Subscribe", false)
	r["permissions/protocols-configure-scope"] = scope("Protocols", "Configure", false)
	r["permissions/protocols-query-scope"] = scope("Protocols", "Query", false)
	r["permissions/records-delete-scope"] = scope("Records", "Delete", true)
	r["permissions/records-read-scope"] = scope("Records", "Read", true)
	r["permissions/records-write-scope"] = scope("Records", "Write", true)
	r["permissions/records-query-scope"] = scope("Records", "Query", true)
	r["permissions/records-subscribe-scope"] = scope("Records", "Subscribe", true)
	r["PermissionsScopes"] = &sch{Types: []string{"object"}}
	r["permissions/conditions"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("publication", strEnum("Required", "Prohibited"))},
	}
	r["PermissionGrantData"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"dateExpires", "scope"},
		Properties: []prop{
			p("description", tStr()), p("dateExpires", ref("defs/date-time")), p("requestId", tStr()),
			p("delegated", tBool()), p("scope", ref("permissions/scope")), p("conditions", ref("permissions/conditions")),
		},
	}
	r["PermissionRequestData"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Required:             []string{"delegated", "scope"},
		Properties: []prop{
			p("description", tStr()), p("delegated", tBool()),
			p("scope", ref("permissions/scope")), p("conditions", ref("permissions/conditions")),
		},
	}
	r["PermissionRevocationData"] = &sch{
		Types:                []string{"object"},
		AdditionalProperties: falseSchema,
		Properties:           []prop{p("description", tStr())},
	}
	return r
}

// requiredExtra lists the descriptor properties, besides interface, method and messageTimestamp,
// that each method's schema requires.
var requiredExtra = map[string]map[string]bool{
	"RecordsQuery":       {"filter": true},
	"RecordsRead":        {"filter": true},
	"RecordsSubscribe":   {"filter": true},
	"RecordsDelete":      {"recordId": true, "prune": true},
	"MessagesQuery":      {"filters": true},
	"MessagesSubscribe":  {"filters": true},
	"ProtocolsConfigure": {"definition": true},
}

// exportedSchemas are the names dwn-sdk-js's validateJsonSchema can look up.
var exportedSchemas = map[string]bool{
	"Authorization": true, "AuthorizationDelegatedGrant": true, "AuthorizationOwner": true,
	"RecordsDelete": true, "RecordsQuery": true, "RecordsSubscribe": true, "RecordsWrite": true,
	"RecordsWriteDataEncoded": true, "RecordsWriteUnidentified": true, "Definitions": true,
	"GeneralJwk": true, "GeneralJws": true, "JwkVerificationMethod": true, "MessagesFilter": true,
	"MessagesQuery": true, "MessagesRead": true, "MessagesSubscribe": true, "NumberRangeFilter": true,
	"PaginationCursor": true, "PermissionGrantData": true, "PermissionRequestData": true,
	"PermissionRevocationData": true, "PermissionsDefinitions": true, "PermissionsScopes": true,
	"ProtocolDefinition": true, "ProtocolRuleSet": true, "ProtocolsConfigure": true, "ProtocolsQuery": true,
	"RecordsRead": true, "RecordsFilter": true, "PublicJwk": true, "GenericSignaturePayload": true,
	"RecordsWriteSignaturePayload": true, "StringRangeFilter": true,
}

// validateJSONSchema is dwn-sdk-js's validateJsonSchema: it fails with the first AJV error
// rendered as dwn-sdk-js renders it.
func validateJSONSchema(name string, v any) error {
	s, ok := schemas[name]
	if !ok || !exportedSchemas[name] {
		return newError(CodeSchemaValidatorSchemaNotFound, "schema for "+name+" not found.")
	}
	errs := js.Validate(schemas, s, v)
	if len(errs) == 0 {
		return nil
	}
	e := errs[0]
	path := e.InstancePath
	if path == "" {
		path = name
	}
	switch e.Keyword {
	case "additionalProperties":
		return newError(CodeSchemaValidatorAdditionalPropertyNotAllowed, e.Message+": "+path+": "+e.Property)
	case "unevaluatedProperties":
		return newError(CodeSchemaValidatorUnevaluatedPropertyNotAllowed, e.Message+": "+path+": "+e.Property)
	}
	return newError(CodeSchemaValidatorFailure, path+": "+e.Message)
}

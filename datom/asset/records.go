package asset

import (
	"fmt"
	"strings"
	"time"

	"github.com/datomspace/datomspace/corestore"
	"github.com/datomspace/datomspace/datom"
)

// How the asset layer's records are kept: as datom transactions in the owner's cores, so that
// they replicate, verify and can be queried like any other datoms. The signed bytes are the
// records; the other attributes repeat some of their fields for queries.
//
// The catalog core:
//
//	owner            owner/identity (the owner's peer ID), owner/grants, owner/ledger (core keys, hex)
//	asset/NAME       asset/name, asset/record (the Asset's canonical CBOR), asset/level,
//	                 asset/category, asset/state, asset/core (every member core, cardinality many)
//
// The grants core:
//
//	owner            owner/identity, owner/catalog
//	grant/ID         grant/record (the signed grant), grant/asset, grant/grantee, grant/actions,
//	                 grant/expires, and on revocation grant/revoked (the time)
//	checkpoint       checkpoint/time: the owner's clock; every transaction of the grants core
//	                 carries one, and a timer adds one periodically
//
// The ledger core (private, encrypted):
//
//	release/ID       release/record (a KeyRelease's canonical CBOR), release/grant, release/core,
//	                 release/to, release/time
const (
	AttrOwnerIdentity = "owner/identity"
	AttrOwnerCatalog  = "owner/catalog"
	AttrOwnerGrants   = "owner/grants"
	AttrOwnerLedger   = "owner/ledger"

	AttrAssetName     = "asset/name"
	AttrAssetRecord   = "asset/record"
	AttrAssetLevel    = "asset/level"
	AttrAssetCategory = "asset/category"
	AttrAssetState    = "asset/state"
	AttrAssetCore     = "asset/core"

	AttrGrantRecord  = "grant/record"
	AttrGrantAsset   = "grant/asset"
	AttrGrantGrantee = "grant/grantee"
	AttrGrantActions = "grant/actions"
	AttrGrantExpires = "grant/expires"
	AttrGrantRevoked = "grant/revoked"

	AttrCheckpointTime = "checkpoint/time"

	AttrReleaseRecord = "release/record"
	AttrReleaseGrant  = "release/grant"
	AttrReleaseCore   = "release/core"
	AttrReleaseTo     = "release/to"
	AttrReleaseTime   = "release/time"
)

const (
	ownerEntity      = "owner"
	checkpointEntity = "checkpoint"
	assetPrefix      = "asset/"
	grantPrefix      = "grant/"
	releasePrefix    = "release/"
)

// schemaDatoms returns the schema transaction of a core's first block: attr → type, and the
// attributes of cardinality many.
func schemaDatoms(types map[string]string, many ...string) []datom.Datom {
	var ds []datom.Datom
	for a, t := range types {
		ds = append(ds, datom.Add(a, datom.AttrIdent, datom.String(a)), datom.Add(a, datom.AttrValueType, datom.String(t)))
	}
	for _, a := range many {
		ds = append(ds, datom.Add(a, datom.AttrCardinality, datom.String("many")))
	}
	return ds
}

func catalogSchema() []datom.Datom {
	ds := schemaDatoms(map[string]string{AttrOwnerIdentity: "string", AttrOwnerGrants: "string", AttrOwnerLedger: "string",
		AttrAssetName: "string", AttrAssetRecord: "bytes", AttrAssetLevel: "string", AttrAssetCategory: "string",
		AttrAssetState: "string", AttrAssetCore: "string"}, AttrAssetCore)
	return append(ds, datom.Add(AttrAssetName, datom.AttrUnique, datom.String("identity")))
}

func grantsSchema() []datom.Datom {
	return schemaDatoms(map[string]string{AttrOwnerIdentity: "string", AttrOwnerCatalog: "string",
		AttrGrantRecord: "bytes", AttrGrantAsset: "string", AttrGrantGrantee: "string", AttrGrantActions: "string",
		AttrGrantExpires: "time", AttrGrantRevoked: "time", AttrCheckpointTime: "time"})
}

func ledgerSchema() []datom.Datom {
	return schemaDatoms(map[string]string{AttrReleaseRecord: "bytes", AttrReleaseGrant: "string", AttrReleaseCore: "string",
		AttrReleaseTo: "string", AttrReleaseTime: "time"})
}

// encodeTx returns the block of one transaction.
func encodeTx(t time.Time, ds []datom.Datom) ([]byte, error) {
	return datom.EncodeTx(datom.Tx{Time: t, Datoms: ds})
}

func assetDatoms(a *Asset) []datom.Datom {
	e := assetPrefix + a.Name
	ds := []datom.Datom{
		datom.Add(e, AttrAssetName, datom.String(a.Name)),
		datom.Add(e, AttrAssetRecord, datom.Bytes(a.Encode())),
		datom.Add(e, AttrAssetLevel, datom.String(a.Level.String())),
		datom.Add(e, AttrAssetState, datom.String(a.State.String())),
	}
	if a.Category != "" {
		ds = append(ds, datom.Add(e, AttrAssetCategory, datom.String(a.Category)))
	}
	return ds
}

// assetCoreDatoms are the asset/core datoms of member cores not listed before.
func assetCoreDatoms(a *Asset, before *Asset) []datom.Datom {
	seen := map[corestore.Key]bool{}
	if before != nil {
		for _, m := range before.Members {
			seen[m.Core] = true
		}
	}
	var ds []datom.Datom
	for _, m := range a.Members {
		if !seen[m.Core] {
			seen[m.Core] = true
			ds = append(ds, datom.Add(assetPrefix+a.Name, AttrAssetCore, datom.String(m.Core.String())))
		}
	}
	return ds
}

func grantDatoms(g *SignedGrant) []datom.Datom {
	e := grantPrefix + g.ID.String()
	ds := []datom.Datom{
		datom.Add(e, AttrGrantRecord, datom.Bytes(g.Encode())),
		datom.Add(e, AttrGrantAsset, datom.String(g.Asset)),
		datom.Add(e, AttrGrantGrantee, datom.String(g.Grantee.String())),
		datom.Add(e, AttrGrantActions, datom.String(g.Actions.String())),
	}
	if !g.Expires.IsZero() {
		ds = append(ds, datom.Add(e, AttrGrantExpires, datom.Time(g.Expires)))
	}
	return ds
}

func checkpointDatom(t time.Time) datom.Datom {
	return datom.Add(checkpointEntity, AttrCheckpointTime, datom.Time(t))
}

// grantEntityID returns the grant id of a grant/ID entity.
func grantEntityID(e string) (GrantID, bool) {
	if !strings.HasPrefix(e, grantPrefix) {
		return GrantID{}, false
	}
	id, err := ParseGrantID(e[len(grantPrefix):])
	return id, err == nil
}

// ownerDatoms are the owner record of a catalog or grants core.
func ownerDatoms(owner Principal, pairs map[string]corestore.Key) []datom.Datom {
	ds := []datom.Datom{datom.Add(ownerEntity, AttrOwnerIdentity, datom.String(owner.String()))}
	for a, k := range pairs {
		ds = append(ds, datom.Add(ownerEntity, a, datom.String(k.String())))
	}
	return ds
}

func parseKeyValue(v datom.Value) (corestore.Key, error) {
	if v.Kind != datom.KindString {
		return corestore.Key{}, fmt.Errorf("%w: a key attribute holds a %s", ErrBadAsset, v.Kind)
	}
	return corestore.ParseKey(v.Str)
}

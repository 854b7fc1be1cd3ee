package doip

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// ACL is an object's access list, read from its attributes' "acl" member as Cordra writes it:
// {"acl": {"readers": [...], "writers": [...]}}. Entries are client ids (a did:key, a peer ID,
// a username); the reader "public" makes the object public. An object without readers is
// public.
type ACL struct {
	Readers []string `json:"readers,omitempty"`
	Writers []string `json:"writers,omitempty"`
}

// Public reports whether anyone may read the object.
func (a ACL) Public() bool { return len(a.Readers) == 0 || slices.Contains(a.Readers, "public") }

// aclOf reads the ACL from decoded attributes.
func aclOf(attrs map[string]any) (ACL, error) {
	var acl ACL
	raw, ok := attrs["acl"]
	if !ok || raw == nil {
		return acl, nil
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &acl); err != nil {
		return acl, fmt.Errorf("%w: attributes.acl must be {\"readers\": [ids], \"writers\": [ids]}", ErrInvalid)
	}
	return acl, nil
}

func anyIn(names, list []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(list, n) })
}

// Access is one request for the Authorizer to decide.
type Access struct {
	Principal Principal
	// Operation is the operation id, with its aliases resolved (OpRetrieve, OpJoin, ...).
	Operation string
	TargetID  string
	// Object is the target object for operations on an existing object, else nil.
	Object *DigitalObject
	// ACL is the target object's access list.
	ACL ACL
	// CreatedBy is the client id that created the target object.
	CreatedBy string
}

// Authorizer decides whether a principal may perform an operation. It returns nil, or an
// error wrapping ErrUnauthenticated (the client should authenticate) or ErrForbidden. The
// data-assets layer implements it to honour grants; OwnerOnly is the default.
type Authorizer interface {
	Authorize(ctx context.Context, a Access) error
}

// OwnerOnly is the default Authorizer: anyone may say Hello, list operations, search, and
// retrieve public objects (or objects whose ACL lists them as readers or writers); the owner
// may do everything; the writers an object's ACL names may update and delete it; Join and Quit
// are for the owner and for the client ids in Joiners ("*" admits any authenticated client);
// the client ids in Creators may create objects, and change and delete the ones they created.
type OwnerOnly struct {
	Joiners  []string
	Creators []string
}

// Authorize implements Authorizer.
func (o OwnerOnly) Authorize(ctx context.Context, a Access) error {
	p := a.Principal
	if p.Kind == Owner {
		return nil
	}
	names := p.Names()
	deny := func(what string) error {
		if p.Anonymous() {
			return fmt.Errorf("%w: %s needs authentication", ErrUnauthenticated, what)
		}
		return fmt.Errorf("%w: %s may not %s", ErrForbidden, p.ID, what)
	}
	switch a.Operation {
	case OpHello, OpListOperations, OpSearch:
		return nil
	case OpRetrieve:
		if a.ACL.Public() || anyIn(names, a.ACL.Readers) || anyIn(names, a.ACL.Writers) {
			return nil
		}
		return deny("retrieve " + a.TargetID)
	case OpUpdate, OpDelete:
		if anyIn(names, a.ACL.Writers) || a.CreatedBy != "" && slices.Contains(names, a.CreatedBy) && o.creator(names) {
			return nil
		}
		return deny("change " + a.TargetID)
	case OpJoin, OpQuit:
		if !p.Anonymous() && (slices.Contains(o.Joiners, "*") || anyIn(names, o.Joiners)) {
			return nil
		}
		return deny("join or quit this service")
	case OpCreate:
		if o.creator(names) {
			return nil
		}
		return deny("create objects")
	}
	return deny("perform " + a.Operation)
}

func (o OwnerOnly) creator(names []string) bool {
	return len(names) > 0 && (slices.Contains(o.Creators, "*") || anyIn(names, o.Creators))
}

package asset

import (
	"fmt"
	"slices"
	"strings"
)

// Level is an asset's security level: who may read its cores and how.
type Level uint8

// The security levels, from the most open to the most closed.
const (
	// Public: whoever knows the core key reads it.
	Public Level = iota
	// Granted: every peer that serves the core (the owner and every replica) serves it only to a
	// peer with a valid, unrevoked, fresh grant.
	Granted
	// Encrypted: the blocks are encrypted (Hypercore's default scheme); anyone may host and
	// serve the ciphertext, and the block key is released, sealed, to grantees only.
	Encrypted
	// Compute: the blocks never leave the owner's peer; grantees run queries from an allowed set
	// there and receive only rows.
	Compute
)

var levelNames = []string{"public", "granted", "encrypted", "compute"}

// String returns the level's name.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", l)
}

// ParseLevel reads a level's name.
func ParseLevel(s string) (Level, error) {
	if i := slices.Index(levelNames, strings.TrimSpace(s)); i >= 0 {
		return Level(i), nil
	}
	return 0, fmt.Errorf("%w: level %q (want public, granted, encrypted or compute)", ErrBadAsset, s)
}

// MarshalText implements encoding.TextMarshaler, so JSON shows the name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// State is an asset's lifecycle state, after Ocean's metaDataState.
type State uint8

// The lifecycle states.
const (
	// Active: listed and grantable.
	Active State = iota
	// EndOfLife: no longer maintained; existing grants hold, no new ones.
	EndOfLife
	// Deprecated: superseded by another asset; existing grants hold.
	Deprecated
	// Retired: withdrawn by its owner: every peer refuses it, whatever the grant.
	Retired
	// Closed: existing grants hold, no new ones are issued.
	Closed
	// Unlisted: grantable, but not shown in listings.
	Unlisted
)

var stateNames = []string{"active", "end-of-life", "deprecated", "retired", "closed", "unlisted"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// ParseState reads a state's name.
func ParseState(s string) (State, error) {
	if i := slices.Index(stateNames, strings.TrimSpace(s)); i >= 0 {
		return State(i), nil
	}
	return 0, fmt.Errorf("%w: state %q (want one of %s)", ErrBadAsset, s, strings.Join(stateNames, ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	*s = v
	return err
}

// Actions is the set of what a grant allows.
type Actions uint8

// The actions a grant can allow.
const (
	// ActRead: download the core's blocks and, for an encrypted asset, have its key released.
	ActRead Actions = 1 << iota
	// ActReplicate: keep a replica and serve it onward (to peers with their own grants).
	ActReplicate
	// ActQuery: run queries on the owner's peer (compute assets, attribute-scoped assets).
	ActQuery
	// ActGrant: delegate a narrower grant.
	ActGrant

	allActions = ActRead | ActReplicate | ActQuery | ActGrant
)

var actionNames = []string{"read", "replicate", "query", "grant"}

// ParseActions reads a comma-separated list of action names.
func ParseActions(s string) (Actions, error) {
	var a Actions
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := slices.Index(actionNames, part)
		if i < 0 {
			return 0, fmt.Errorf("%w: action %q (want read, replicate, query or grant)", ErrBadGrant, part)
		}
		a |= 1 << i
	}
	if a == 0 {
		return 0, fmt.Errorf("%w: no actions", ErrBadGrant)
	}
	return a, nil
}

// Has reports whether a allows every action of b.
func (a Actions) Has(b Actions) bool { return a&b == b }

// Any reports whether a allows at least one action of b.
func (a Actions) Any(b Actions) bool { return a&b != 0 }

// String returns the actions as a comma-separated list.
func (a Actions) String() string {
	var out []string
	for i, n := range actionNames {
		if a&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// MarshalText implements encoding.TextMarshaler.
func (a Actions) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Actions) UnmarshalText(b []byte) error {
	v, err := ParseActions(string(b))
	*a = v
	return err
}

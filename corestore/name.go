package corestore

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckName returns nil if name may name a writable core, and otherwise an error wrapping
// ErrBadName that says what is wrong with it. A name is 1 to 1024 bytes of valid UTF-8 with no
// control characters (no newline, tab, NUL or DEL, and no U+2028 or U+2029 line or paragraph
// separator), and it is not text that ParseKey reads as a key (64 hex or 52 z-base32 characters,
// with or without surrounding spaces): a name and a key must never be confused where either may
// be given.
//
// Store.Create applies it; callers that accept a name from a user can apply it first to report the
// same error.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("core name is empty: %w", ErrBadName)
	case len(name) > maxNameLen:
		return fmt.Errorf("core name of %d bytes: %w", len(name), ErrBadName)
	case !utf8.ValidString(name):
		return fmt.Errorf("core name %s is not valid UTF-8: %w", quoteName(name), ErrBadName)
	}
	for i, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("core name %s has the control character %U at byte %d: %w", quoteName(name), r, i, ErrBadName)
		}
	}
	if _, err := ParseKey(name); err == nil {
		return fmt.Errorf("core name %s reads as a key: %w", quoteName(name), ErrBadName)
	}
	return nil
}

// quoteName quotes a name for an error message, shortened to its first 64 bytes.
func quoteName(name string) string {
	if len(name) > 64 {
		return fmt.Sprintf("%q...", name[:64])
	}
	return fmt.Sprintf("%q", name)
}

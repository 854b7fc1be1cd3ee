package blobs

import (
	"encoding/binary"
	"fmt"

	"github.com/ipfs/go-cid"
)

// AppendBinary appends r's binary form, for a datom's blob value: the root CID's bytes, then
// the size as a uvarint.
func (r Ref) AppendBinary(b []byte) ([]byte, error) {
	if err := CheckCID(r.CID); err != nil {
		return b, err
	}
	b = append(b, r.CID.Bytes()...)
	return binary.AppendUvarint(b, r.Size), nil
}

// MarshalBinary returns r's binary form (AppendBinary).
func (r Ref) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// UnmarshalBinary decodes the binary form of a ref, as a replica reads it from another peer's
// datoms: a supported CID and a size, and nothing after them.
func (r *Ref) UnmarshalBinary(b []byte) error {
	n, c, err := cid.CidFromBytes(b)
	if err != nil {
		return fmt.Errorf("%w: blob ref: %w", ErrInvalidCID, err)
	}
	if err := CheckCID(c); err != nil {
		return err
	}
	size, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return fmt.Errorf("%w: blob ref: bad size", ErrMalformed)
	}
	if m != len(binary.AppendUvarint(nil, size)) {
		return fmt.Errorf("%w: blob ref: the size is not in its shortest form", ErrMalformed)
	}
	if n+m != len(b) {
		return fmt.Errorf("%w: blob ref: %d bytes after the size", ErrMalformed, len(b)-n-m)
	}
	*r = Ref{CID: c, Size: size}
	return nil
}

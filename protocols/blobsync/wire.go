package blobsync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
)

// ProtocolID is the libp2p protocol of the fast path between datomspace peers.
//
// The client writes requests; the server answers each one, in order, before reading the next,
// so a client keeps a few requests in flight and the stream never idles. A request is a uvarint
// count (1 to MaxWants) followed by that many CIDs, each a uvarint length (at most MaxCIDLen)
// and the CID's bytes. The answer is, for each CID in order, one status byte: StatusBlock
// followed by a uvarint length (at most the block limit) and the block's bytes, or
// StatusDontHave. The client knows which CID each block answers, so it checks every block
// against its CID as it arrives.
const ProtocolID = "/datomspace/blobs/1.0.0"

// Wire limits.
const (
	// MaxWants is the most CIDs one request may carry.
	MaxWants = 256
	// MaxCIDLen is the longest CID accepted (a CIDv1 with a sha2-256 multihash has 36 bytes).
	MaxCIDLen = 64
)

// Response status bytes.
const (
	StatusBlock    byte = 0
	StatusDontHave byte = 1
)

// ErrProtocol is a violation of the wire format by the other side.
var ErrProtocol = errors.New("blobsync protocol violation")

// appendRequest encodes a request for cs.
func appendRequest(b []byte, cs []cid.Cid) []byte {
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for _, c := range cs {
		cb := c.Bytes()
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
	}
	return b
}

// readRequest decodes one request. io.EOF before the first byte means the client is done.
func readRequest(r *bufio.Reader) ([]cid.Cid, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: request count: %w", ErrProtocol, unexpected(err))
	}
	if n == 0 || n > MaxWants {
		return nil, fmt.Errorf("%w: request of %d CIDs", ErrProtocol, n)
	}
	out := make([]cid.Cid, 0, n)
	var buf [MaxCIDLen]byte
	for range n {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, fmt.Errorf("%w: CID length: %w", ErrProtocol, unexpected(err))
		}
		if l == 0 || l > MaxCIDLen {
			return nil, fmt.Errorf("%w: CID of %d bytes", ErrProtocol, l)
		}
		if _, err := io.ReadFull(r, buf[:l]); err != nil {
			return nil, fmt.Errorf("%w: CID: %w", ErrProtocol, unexpected(err))
		}
		c, err := cid.Cast(buf[:l])
		if err != nil {
			return nil, fmt.Errorf("%w: %w: %w", ErrProtocol, blobs.ErrInvalidCID, err)
		}
		if err := blobs.CheckCID(c); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// appendBlockHeader encodes the status and length that precede a block's bytes.
func appendBlockHeader(b []byte, size int) []byte {
	b = append(b, StatusBlock)
	return binary.AppendUvarint(b, uint64(size))
}

// readResponse reads the answer for one CID into buf (grown as needed): the block and true, or
// false for a don't-have.
func readResponse(r *bufio.Reader, buf []byte, maxBlock int) ([]byte, bool, error) {
	st, err := r.ReadByte()
	if err != nil {
		return nil, false, fmt.Errorf("%w: response status: %w", ErrProtocol, unexpected(err))
	}
	switch st {
	case StatusDontHave:
		return nil, false, nil
	case StatusBlock:
	default:
		return nil, false, fmt.Errorf("%w: response status %d", ErrProtocol, st)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, false, fmt.Errorf("%w: block length: %w", ErrProtocol, unexpected(err))
	}
	if n > uint64(maxBlock) {
		return nil, false, fmt.Errorf("%w: block of %d bytes, over the limit of %d", ErrProtocol, n, maxBlock)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, false, fmt.Errorf("%w: block: %w", ErrProtocol, unexpected(err))
	}
	return buf, true, nil
}

// unexpected turns an EOF inside a message into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

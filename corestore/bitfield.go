package corestore

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// bitsPerPage is how many blocks one bitfield page covers (4 KiB of bits).
const bitsPerPage = 32768

const wordsPerPage = bitsPerPage / 64

// bitPage is one page of the has-bitfield.
type bitPage [wordsPerPage]uint64

func (p *bitPage) get(i uint64) bool { return p[i/64]&(1<<(i%64)) != 0 }

// setRange sets (or clears) bits [lo, hi) of the page.
func (p *bitPage) setRange(lo, hi uint64, v bool) {
	for i := lo; i < hi; {
		w := i / 64
		b := i % 64
		n := min(64-b, hi-i)
		var m uint64
		if n == 64 {
			m = ^uint64(0)
		} else {
			m = ((uint64(1) << n) - 1) << b
		}
		if v {
			p[w] |= m
		} else {
			p[w] &^= m
		}
		i += n
	}
}

// firstZero returns the first clear bit at or after lo, and false when the page is full from lo on.
func (p *bitPage) firstZero(lo uint64) (uint64, bool) {
	for w := lo / 64; w < wordsPerPage; w++ {
		word := ^p[w]
		if w == lo/64 {
			word &^= (uint64(1) << (lo % 64)) - 1
		}
		if word != 0 {
			return w*64 + uint64(bits.TrailingZeros64(word)), true
		}
	}
	return 0, false
}

func (p *bitPage) empty() bool {
	for _, w := range p {
		if w != 0 {
			return false
		}
	}
	return true
}

func (p *bitPage) encode() []byte {
	b := make([]byte, 0, wordsPerPage*8)
	for _, w := range p {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

func decodeBitPage(b []byte) (*bitPage, error) {
	if len(b) != wordsPerPage*8 {
		return nil, fmt.Errorf("%w: bitfield page of %d bytes", errDecode, len(b))
	}
	p := new(bitPage)
	for i := range p {
		p[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return p, nil
}

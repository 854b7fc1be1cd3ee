package corestore

import "math/bits"

// Held returns how many blocks of the core's current length are stored locally: the length for
// a writable core or a complete replica, fewer for a sparse one. It reads the bitfield pages,
// one per 32,768 blocks.
func (c *Core) Held() uint64 {
	length := c.Length()
	var n uint64
	for p := uint64(0); p*bitsPerPage < length; p++ {
		hi := min(length-p*bitsPerPage, bitsPerPage)
		bp, err := c.bitPage(p)
		if err != nil {
			continue
		}
		if bp == nil {
			if c.kp != nil {
				n += hi
			}
			continue
		}
		full, rest := hi/64, hi%64
		for w := uint64(0); w < full; w++ {
			n += uint64(bits.OnesCount64(bp[w]))
		}
		if rest > 0 {
			n += uint64(bits.OnesCount64(bp[full] & (1<<rest - 1)))
		}
	}
	return n
}

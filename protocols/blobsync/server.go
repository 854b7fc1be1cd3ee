package blobsync

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/libp2p/go-libp2p/core/network"
)

// handle serves one fast-path stream: requests in order, each answered whole before the next
// is read. A request that breaks the wire format resets the stream.
func (s *Service) handle(st network.Stream) {
	if err := s.begin(); err != nil {
		st.Reset()
		return
	}
	defer s.wg.Done()
	p := st.Conn().RemotePeer()
	if s.Banned(p) {
		st.Reset()
		return
	}
	stop := withStream(s.ctx, st)
	defer stop()
	r := bufio.NewReaderSize(st, 4<<10)
	w := bufio.NewWriterSize(st, 64<<10)
	var hdr []byte
	for {
		st.SetReadDeadline(time.Now().Add(s.o.idle))
		cs, err := readRequest(r)
		if errors.Is(err, io.EOF) {
			st.Close()
			return
		}
		if err != nil {
			s.log.Debug("blobsync: bad request", "peer", p.String(), "err", err)
			st.Reset()
			return
		}
		for _, c := range cs {
			data, err := s.store.Block(s.ctx, c)
			st.SetWriteDeadline(time.Now().Add(s.o.blockWrite))
			if errors.Is(err, blobs.ErrNotFound) {
				err = w.WriteByte(StatusDontHave)
			} else if err == nil {
				hdr = appendBlockHeader(hdr[:0], len(data))
				if _, err = w.Write(hdr); err == nil {
					_, err = w.Write(data)
				}
				s.servedBlocks.Add(1)
				s.servedBytes.Add(uint64(len(data)))
			}
			if err != nil {
				s.log.Debug("blobsync: serve", "peer", p.String(), "cid", c.String(), "err", err)
				st.Reset()
				return
			}
		}
		if err := w.Flush(); err != nil {
			st.Reset()
			return
		}
	}
}

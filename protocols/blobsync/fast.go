package blobsync

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/datomspace/datomspace/corestore/blobs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// runFast is the worker of one fast-path provider: it keeps up to cfg.pipeline requests in
// flight on st and reads their answers in order, checking each block as it arrives.
func (f *fetch) runFast(ctx context.Context, id int, p peer.ID, st network.Stream) {
	defer f.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := withStream(ctx, st)
	defer stop()

	sent := make(chan []blobs.Want, f.cfg.pipeline) // requests written, answers not yet read
	freed := make(chan struct{}, f.cfg.pipeline)
	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = f.readAnswers(ctx, id, st, sent, freed)
	}()

	err := f.sendRequests(ctx, id, st, sent, freed, readDone)
	cancel()
	st.Reset()
	<-readDone
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, errReaderDone) {
		err = readErr
	}
	if errors.Is(err, errBadBlock) {
		f.s.ban(p, err)
	} else if err != nil && ctx.Err() == nil {
		f.s.log.Debug("blobsync: provider dropped", "peer", p.String(), "err", err)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", p, err)
	}
	f.removeWorker(id, err)
}

// errReaderDone: the reader stopped; its error says why.
var errReaderDone = errors.New("reader done")

func (f *fetch) sendRequests(ctx context.Context, id int, st network.Stream, sent chan<- []blobs.Want, freed <-chan struct{}, readDone <-chan struct{}) error {
	defer close(sent)
	var buf []byte
	outstanding := 0
	for {
		if outstanding < f.cfg.pipeline {
			ws, changed, wake := f.assign(id, f.cfg.batch, uint64(f.cfg.batch)*blobs.ChunkSize)
			if len(ws) > 0 {
				cs := make([]cid.Cid, 0, len(ws))
				for _, w := range ws {
					cs = append(cs, w.CID)
				}
				buf = appendRequest(buf[:0], cs)
				st.SetWriteDeadline(time.Now().Add(f.cfg.stallTimeout))
				if _, err := st.Write(buf); err != nil {
					return fmt.Errorf("send request: %w", err)
				}
				sent <- ws
				outstanding++
				continue
			}
			t := time.NewTimer(wake)
			select {
			case <-changed:
			case <-t.C:
			case <-freed:
				outstanding--
			case <-readDone:
				t.Stop()
				return errReaderDone
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			t.Stop()
			continue
		}
		select {
		case <-freed:
			outstanding--
		case <-readDone:
			return errReaderDone
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readAnswers reads the answers to the requests on sent, in order.
func (f *fetch) readAnswers(ctx context.Context, id int, st network.Stream, sent <-chan []blobs.Want, freed chan<- struct{}) error {
	r := bufio.NewReaderSize(st, 64<<10)
	for ws := range sent {
		for _, w := range ws {
			st.SetReadDeadline(time.Now().Add(f.cfg.stallTimeout))
			// A new buffer per block: a datastore may keep the slice it is given.
			data, ok, err := readResponse(r, nil, f.lim.MaxBlockSize)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			if !ok {
				f.dontHave(id, w)
				continue
			}
			if err := f.deliver(ctx, id, w, data); err != nil {
				return err
			}
		}
		freed <- struct{}{}
	}
	return ctx.Err()
}

package blobsync

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/crypto/chacha20poly1305"
)

// BenchmarkStreamCeiling measures what bounds the fast path below it, on this machine: 256 MiB
// on one raw libp2p stream between two hosts in this process (TCP, Noise, yamux on loopback;
// both ends' CPU), Noise's cipher (ChaCha20-Poly1305) sealing and opening 256 MiB in its
// 64 KiB-ish frames, and SHA-256 of 256 MiB (the fetcher's verification).
// Run: go test ./protocols/blobsync -run '^$' -bench StreamCeiling -benchtime 1x
func BenchmarkStreamCeiling(b *testing.B) {
	const size = 256 << 20
	const proto = "/datomspace/test/ceiling"
	a, c := newHost(b), newHost(b)
	done := make(chan error, 1)
	c.SetStreamHandler(proto, func(st network.Stream) {
		buf := make([]byte, 1<<20)
		var n int64
		for {
			k, err := st.Read(buf)
			n += int64(k)
			if err != nil {
				if err == io.EOF && n == size {
					err = nil
				}
				st.Close()
				done <- err
				return
			}
		}
	})
	if err := a.Connect(context.Background(), c.Peerstore().PeerInfo(c.ID())); err != nil {
		b.Fatal(err)
	}
	src := make([]byte, 1<<20)
	seededReader(7).Read(src)
	var wall, cpu float64
	for range b.N {
		st, err := a.NewStream(context.Background(), c.ID(), proto)
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), cpuTime()
		for sent := 0; sent < size; sent += len(src) {
			if _, err := st.Write(src); err != nil {
				b.Fatal(err)
			}
		}
		st.CloseWrite()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0).Seconds()
		cpu += (cpuTime() - c0).Seconds()
		st.Close()
	}
	n := float64(b.N)
	b.SetBytes(size)
	b.ReportMetric(wall/n, "stream-s")
	b.ReportMetric(cpu/n, "stream-cpu-s")

	// The cipher alone: seal and open 256 MiB in frames of Noise's largest payload.
	aead, err := chacha20poly1305.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	frame := src[:65535-16]
	nonce := make([]byte, 12)
	sealed := make([]byte, 0, 65535)
	t0, c0 := time.Now(), cpuTime()
	for done := 0; done < size; done += len(frame) {
		sealed = aead.Seal(sealed[:0], nonce, frame, nil)
		if _, err := aead.Open(frame[:0:len(frame)], nonce, sealed, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(t0).Seconds(), "noise-seal+open-s")
	b.ReportMetric((cpuTime() - c0).Seconds(), "noise-cpu-s")
	t0 = time.Now()
	for done := 0; done < size; done += len(src) {
		sha256.Sum256(src)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "sha256-s")
}

package doip

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzServe feeds arbitrary bytes to a service's DOIP 2.0 connection, as an anonymous peer:
// the server must answer or close, never panic or hang.
func FuzzServe(f *testing.F) {
	files, _ := filepath.Glob("testdata/cordra/*.request")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Add([]byte("@\n012\nx\n#\n#\n"))
	f.Add([]byte(`{"requestId":"1","targetId":"fz/service","operationId":"0.DOIP/Op.Search","attributes":{"query":"a AND (b"}}` + "\n#\n#\n"))
	n := newNode(f, "fz", NewMemBlobs())
	svc, err := NewService(n.repo, n.key, WithServiceLogger(quiet()))
	if err != nil {
		f.Fatal(err)
	}
	srv, _ := NewServer(svc, WithServerLogger(quiet()))
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan struct{})
		go func() {
			srv.ServeConn(context.Background(), &pipeConn{inR, outW}, ConnInfo{})
			close(done)
		}()
		go func() {
			inW.Write(in)
			inW.Close() // the peer is done sending
		}()
		got := make(chan struct{})
		go func() {
			io.Copy(io.Discard, outR)
			close(got)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("server did not finish")
		}
		<-got
	})
}

// pipeConn is a connection whose sides close apart, so the server sees the peer's end.
type pipeConn struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *pipeConn) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeConn) Close() error {
	p.r.Close()
	return p.w.Close()
}

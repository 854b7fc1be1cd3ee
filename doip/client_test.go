package doip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Many goroutines share one connection: requests are pipelined, responses matched by
// requestId, and a large element streaming in the middle delays but does not mix them.
func TestClientPipelining(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "pipe", nil)
	_, addr, _ := n.serve(t)
	c := n.dial(t, addr, WithAuth(n.ownerAuth()))
	big := bytes.Repeat([]byte("pipelined "), 300000)
	for i := 0; i < 20; i++ {
		do := &DigitalObject{ID: "pipe/" + strconv.Itoa(i), Attributes: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`),
			Elements: []Element{{ID: "e"}}}
		data := map[string]io.Reader{"e": bytes.NewReader([]byte(strconv.Itoa(i)))}
		if i == 7 {
			data["e"] = bytes.NewReader(big)
		}
		if _, err := c.Create(ctx, do, data); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := 0; g < 20; g++ {
		wg.Go(func() {
			for k := 0; k < 20; k++ {
				i := (g + k) % 20
				id := "pipe/" + strconv.Itoa(i)
				if k%3 == 0 {
					rc, err := c.RetrieveElement(ctx, id, "e")
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					want := []byte(strconv.Itoa(i))
					if i == 7 {
						want = big
					}
					if err != nil || !bytes.Equal(b, want) {
						errs <- errors.New("element of " + id + " differs")
						return
					}
					continue
				}
				do, err := c.Retrieve(ctx, id)
				if err != nil {
					errs <- err
					return
				}
				if do.ID != id {
					errs <- errors.New("got " + do.ID + " for " + id)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A request abandoned by its context does not disturb the next ones.
func TestClientCancel(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "cancel", nil)
	_, addr, _ := n.serve(t)
	c := n.dial(t, addr)
	for i := 0; i < 50; i++ {
		cctx, cancel := context.WithTimeout(ctx, time.Duration(i)*50*time.Microsecond)
		c.Hello(cctx)
		cancel()
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Hello(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if _, err := c.Hello(ctx); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// A server that closes fails the requests in flight instead of hanging them.
func TestClientServerGone(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "gone", nil)
	svc, err := NewService(n.repo, n.key, WithServiceLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(svc, WithServerLogger(quiet()))
	ln, err := ListenTLS("127.0.0.1:0", n.key, svc.ID())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- srv.Serve(ln) }()
	c := n.dial(t, ln.Addr().String())
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := c.Hello(ctx); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("hello on a closed server: %v", err)
	}
}

// A connection that sends nothing for the idle timeout is closed.
func TestIdleTimeout(t *testing.T) {
	n := newNode(t, "idle", nil)
	svc, _ := NewService(n.repo, n.key, WithServiceLogger(quiet()))
	srv, _ := NewServer(svc, WithServerLogger(quiet()), WithIdleTimeout(200*time.Millisecond))
	defer srv.Close()
	ln, err := ListenTLS("127.0.0.1:0", n.key, svc.ID())
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	c := n.dial(t, ln.Addr().String())
	if _, err := c.Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("idle connection not closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CNRI's partial retrieve: a range of an element's bytes.
func TestRetrieveRange(t *testing.T) {
	ctx := testCtx(t)
	n := newNode(t, "rng", nil)
	_, addr, _ := n.serve(t)
	c := n.dial(t, addr, WithAuth(n.ownerAuth()))
	if _, err := c.Create(ctx, &DigitalObject{ID: "rng/1", Elements: []Element{{ID: "e"}}}, map[string]io.Reader{"e": bytes.NewReader([]byte("0123456789"))}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start, end int64
		want       string
	}{{0, 0, "0"}, {2, 5, "2345"}, {7, 100, "789"}, {10, 20, ""}} {
		rc, err := c.RetrieveRange(ctx, "rng/1", "e", tc.start, tc.end)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != tc.want {
			t.Errorf("range %d-%d: %q, want %q", tc.start, tc.end, b, tc.want)
		}
	}
	if _, err := c.RetrieveRange(ctx, "rng/1", "e", 5, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("backwards range: %v", err)
	}
}

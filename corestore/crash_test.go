package corestore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "CORESTORE_CRASH_CHILD"

// crashBlock is the content of block i in the crash test: derived from i alone, so the parent
// can check every byte after a kill.
func crashBlock(i uint64) []byte {
	n := int(i*7919%3000) + 1
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i) ^ byte(j)
	}
	copy(b, strconv.FormatUint(i, 10))
	return b
}

// crashChild appends to the core "crash" until it is killed, printing "ack N" after each
// durable append returns.
func crashChild(dir string) int {
	ctx := context.Background()
	s, err := Open(ctx, dir, WithLogger(quiet()))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	c, err := s.Create(ctx, "crash")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for {
		n := 1
		if r.IntN(3) == 0 {
			n = 1 + r.IntN(300)
		}
		start := c.Length()
		bs := make([][]byte, n)
		for k := range bs {
			bs[k] = crashBlock(start + uint64(k))
		}
		length, err := c.Append(ctx, bs...)
		if err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			return 1
		}
		fmt.Fprintf(out, "ack %d\n", length)
		out.Flush()
	}
}

// TestCrashRecovery SIGKILLs an appending child process at random moments, 24 times. After each
// kill the store reopens, the core verifies against its signature, its length is at least the
// last length the child saw acknowledged, and every block is intact.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(42, 42))
	var lastAck uint64
	for round := 0; round < 24; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acks := make(chan uint64, 1024)
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					select {
					case acks <- n:
					default:
						<-acks
						acks <- n
					}
				} else {
					lines <- sc.Text()
				}
			}
			close(acks)
		}()
		// Let it run until it has acknowledged something, then a random while longer.
		deadline := time.After(10 * time.Second)
		select {
		case n, ok := <-acks:
			if !ok {
				t.Fatalf("round %d: child exited: %v", round, <-lines)
			}
			lastAck = max(lastAck, n)
		case l := <-lines:
			t.Fatalf("round %d: child said %q", round, l)
		case <-deadline:
			t.Fatalf("round %d: child acknowledged nothing", round)
		}
		time.Sleep(time.Duration(r.IntN(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for n := range acks {
			lastAck = max(lastAck, n)
		}
		cmd.Wait()

		s, err := Open(context.Background(), dir, WithLogger(quiet()))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		c, err := s.Get(context.Background(), s.KeyForName("crash"))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		length := c.Length()
		if length < lastAck {
			t.Fatalf("round %d: length %d after kill, but %d was acknowledged", round, length, lastAck)
		}
		if err := c.Verify(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Spot-check content: the tail and random blocks.
		for _, i := range []uint64{0, length / 2, length - 1, uint64(r.Int64N(int64(length)))} {
			b, err := c.Get(context.Background(), i)
			if err != nil || string(b) != string(crashBlock(i)) {
				t.Fatalf("round %d: block %d is wrong: %v", round, i, err)
			}
		}
		t.Logf("round %d: killed at length %d (last ack %d)", round, length, lastAck)
		lastAck = length
		s.Close()
	}
}

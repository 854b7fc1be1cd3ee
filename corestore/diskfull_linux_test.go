//go:build linux

package corestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/sys/unix"
)

// The disk-full test runs stores in a child process (this test binary, re-executed) on a small
// tmpfs, fills the filesystem to the brim, and checks that writes fail with ErrDiskFull, reads go
// on, the stores close and open again, nothing acknowledged is lost, and writes work again once
// space is freed. A write Badger cannot back with disk space is a SIGBUS, so only a separate
// process can show there is none.

const (
	diskFullChildEnv   = "CORESTORE_DISKFULL_CHILD"
	diskFullReserveEnv = "CORESTORE_DISKFULL_RESERVE"
	// diskFullReserve is the reserve the child's stores keep: small, to keep the tmpfs small.
	diskFullReserve = 32 << 20
	diskFullFSSize  = "192m"
)

func init() {
	// Before TestMain: the child never runs tests.
	if dir := os.Getenv(diskFullChildEnv); dir != "" {
		os.Exit(diskFullChild(dir))
	}
}

// diskBlock is block i of the disk-full test's core: its size and bytes follow from i alone, and
// sizes mix blocks stored in Badger's LSM tree and in its value log.
func diskBlock(i uint64) []byte {
	b := make([]byte, 512+int(i*7919%24000))
	for j := range b {
		b[j] = byte(i*31) ^ byte(j) ^ byte(j>>8)
	}
	copy(b, strconv.FormatUint(i, 10))
	return b
}

// diskFullChild runs commands, one a line on stdin, against an owner store and a replica store
// under dir, and answers each with one line: "ok ..." or "err diskfull|other MESSAGE".
func diskFullChild(dir string) int {
	ctx := context.Background()
	reserve := int64(diskFullReserve)
	if v := os.Getenv(diskFullReserveEnv); v != "" {
		reserve, _ = strconv.ParseInt(v, 10, 64)
	}
	var owner, replica *Store
	var oc, rc *Core
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	fail := func(err error) {
		kind := "other"
		if errors.Is(err, ErrDiskFull) {
			kind = "diskfull"
		}
		say("err %s %s", kind, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "open":
			var err error
			opts := []Option{WithLogger(quiet()), WithDiskReserve(reserve)}
			if owner, err = Open(ctx, filepath.Join(dir, "owner"), opts...); err != nil {
				fail(err)
				continue
			}
			if replica, err = Open(ctx, filepath.Join(dir, "replica"), opts...); err != nil {
				fail(err)
				continue
			}
			if oc, err = owner.Create(ctx, "disk"); err != nil {
				fail(err)
				continue
			}
			if rc, err = replica.Replica(ctx, oc.Key()); err != nil {
				fail(err)
				continue
			}
			say("ok %v %v", owner.ReadOnly(), replica.ReadOnly())
		case "append": // append COUNT: COUNT blocks in one append
			n, _ := strconv.Atoi(f[1])
			start := oc.Length()
			bs := make([][]byte, n)
			for k := range bs {
				bs[k] = diskBlock(start + uint64(k))
			}
			length, err := oc.Append(ctx, bs...)
			if err != nil {
				fail(err)
				continue
			}
			say("ok %d", length)
		case "each": // each COUNT: COUNT appends of one block; the small ones stay in the memtable
			n, _ := strconv.Atoi(f[1])
			var length uint64
			var err error
			for k := 0; k < n && err == nil; k++ {
				length, err = oc.Append(ctx, diskBlock(oc.Length()))
			}
			if err != nil {
				fail(err)
				continue
			}
			say("ok %d", length)
		case "replicate": // the replica takes everything the owner has, 64 blocks a proof
			var err error
			for err == nil && (rc.Length() < oc.Length() || rc.Contiguous() < rc.Length()) {
				rt := rc.Tree()
				start := rc.Contiguous()
				end := min(start+64, oc.Length())
				var p *Proof
				p, err = oc.Prove(ctx, ProofRequest{Start: start, End: end, Upgrade: rt.Length < oc.Length(),
					HaveFork: rt.Fork, HaveLength: rt.Length, NeedManifest: rc.Manifest() == nil})
				if err == nil {
					_, err = rc.ApplyProof(ctx, p)
				}
			}
			if err == nil {
				err = rc.Flush(ctx)
			}
			if err != nil {
				fail(err)
				continue
			}
			say("ok %d", rc.Contiguous())
		case "clear": // the replica drops its blocks, to free space; a later replicate fetches them again
			err := rc.Clear(ctx, 0, rc.Length())
			if err == nil {
				err = rc.Flush(ctx)
			}
			if err != nil {
				fail(err)
				continue
			}
			say("ok %d", rc.Contiguous())
		case "read": // every block of both, checked against what was appended
			var err error
			for _, c := range []*Core{oc, rc} {
				end := c.Contiguous()
				for i := uint64(0); i < end && err == nil; i += 100 {
					var bs [][]byte
					if bs, err = c.GetRange(ctx, i, min(i+100, end)); err != nil {
						break
					}
					for k, b := range bs {
						if string(b) != string(diskBlock(i+uint64(k))) {
							err = fmt.Errorf("block %d of %s is wrong", i+uint64(k), c.Key())
							break
						}
					}
				}
				if err == nil {
					err = c.Verify(ctx)
				}
			}
			if err != nil {
				fail(err)
				continue
			}
			say("ok %d %d", oc.Contiguous(), rc.Contiguous())
		case "derived": // open the owner's derived database and read from it
			db, err := owner.Derived()
			if err == nil {
				err = db.View(func(txn *badger.Txn) error { return nil })
			}
			if err != nil {
				fail(err)
				continue
			}
			say("ok")
		case "close":
			err := errors.Join(owner.Close(), replica.Close())
			if err != nil {
				fail(err)
				continue
			}
			say("ok")
		case "exit":
			return 0
		default:
			say("err other unknown command %q", f[0])
		}
	}
	return 0
}

// diskFullProc is a running child of the disk-full test.
type diskFullProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr *strings.Builder
}

func startDiskFullChild(t *testing.T, dir string, reserve int64) *diskFullProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+dir, diskFullReserveEnv+"="+strconv.FormatInt(reserve, 10))
	p := &diskFullProc{t: t, cmd: cmd, lines: make(chan string, 16), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// do sends a command and returns the child's answer. A child that dies fails the test, with what
// it printed (a SIGBUS shows here).
func (p *diskFullProc) do(cmd string) string {
	p.t.Helper()
	fmt.Fprintln(p.in, cmd)
	select {
	case l, ok := <-p.lines:
		if !ok {
			err := p.cmd.Wait()
			p.t.Fatalf("%q: the child died (%v):\n%s", cmd, err, tailLines(p.stderr.String(), 12))
		}
		return l
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		p.t.Fatalf("%q: no answer in 2 minutes", cmd)
	}
	return ""
}

// ok sends a command that must succeed and returns the rest of its answer.
func (p *diskFullProc) ok(cmd string) string {
	p.t.Helper()
	l := p.do(cmd)
	rest, ok := strings.CutPrefix(l, "ok")
	if !ok {
		p.t.Fatalf("%q: %s", cmd, l)
	}
	return strings.TrimSpace(rest)
}

// full sends a command that must fail with ErrDiskFull.
func (p *diskFullProc) full(cmd string) {
	p.t.Helper()
	l := p.do(cmd)
	if !strings.HasPrefix(l, "err diskfull ") {
		p.t.Fatalf("%q: want a disk-full error, got %q", cmd, l)
	}
	if !strings.Contains(l, "disk full") {
		p.t.Fatalf("%q: the message does not say the disk is full: %q", cmd, l)
	}
}

// exit ends the child and checks that it exited cleanly.
func (p *diskFullProc) exit() {
	p.t.Helper()
	fmt.Fprintln(p.in, "exit")
	p.in.Close()
	for range p.lines {
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("the child exited with %v:\n%s", err, tailLines(p.stderr.String(), 12))
	}
	if s := p.stderr.String(); strings.Contains(s, "SIGBUS") || strings.Contains(s, "fatal error") || strings.Contains(s, "panic") {
		p.t.Fatalf("the child printed:\n%s", tailLines(s, 12))
	}
}

// kill ends the child with SIGKILL, as a crash would.
func (p *diskFullProc) kill() {
	p.in.Close()
	p.cmd.Process.Kill()
	for range p.lines {
	}
	p.cmd.Wait()
}

// tailLines returns the last n lines of s, or, when s holds a Go crash, its first n lines.
func tailLines(s string, n int) string {
	if i := strings.Index(s, "fatal error"); i >= 0 {
		s = s[i:]
		lines := strings.Split(s, "\n")
		return strings.Join(lines[:min(n, len(lines))], "\n")
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// fill writes to path until the filesystem has no room left, not even for 4 KiB.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for i := range buf {
			buf[i] = byte(i) | 1
		}
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	if free, err := freeSpace(filepath.Dir(path)); err != nil || free >= 64<<10 {
		t.Fatalf("filled the filesystem, but %d bytes are free (%v)", free, err)
	}
}

// mountTmpfs mounts a tmpfs of the given size at a new directory and unmounts it when the test
// ends. It skips the test when that is not possible here.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a tmpfs, which needs root")
	}
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	fs := mountTmpfs(t, diskFullFSSize)
	dir := filepath.Join(fs, "stores")
	filler := filepath.Join(fs, "filler")
	atoi := func(s string) uint64 {
		n, err := strconv.ParseUint(strings.Fields(s)[0], 10, 64)
		if err != nil {
			t.Fatalf("answer %q: %v", s, err)
		}
		return n
	}
	var acked uint64
	// readAll reads every block of both stores; the owner must hold at least what was acknowledged.
	readAll := func(p *diskFullProc) {
		t.Helper()
		if got := atoi(p.ok("read")); got < acked {
			t.Fatalf("the owner holds %d blocks, but %d were acknowledged", got, acked)
		}
	}

	// One process through a full disk and back: writes fail, reads go on, and once the filler is
	// gone writes work again without a restart.
	p := startDiskFullChild(t, dir, diskFullReserve)
	if ro := p.ok("open"); ro != "false false" {
		t.Fatalf("open with room: read-only %s", ro)
	}
	for range 5 {
		acked = atoi(p.ok("append 200"))
	}
	p.ok("replicate")
	acked = atoi(p.ok("append 300"))
	fill(t, filler)
	p.full("append 1")
	p.full("append 200")
	p.full("replicate") // the replica's blocks go to its data file: refused too
	readAll(p)
	// Clearing frees space, so it works on a full disk, and the punched bytes come back.
	before, _ := freeSpace(fs)
	p.ok("clear")
	if after, _ := freeSpace(fs); after < before+10<<20 {
		t.Fatalf("clearing the replica freed %d bytes", after-before)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	acked = atoi(p.ok("append 100"))
	p.ok("replicate")
	readAll(p)
	if _, err := os.Stat(filepath.Join(dir, "owner", ReserveFileName)); err != nil {
		t.Fatalf("the reserve file is not back: %v", err)
	}

	// Full again, then closed: closing flushes Badger's memtables, into the released reserve. The
	// replica is left behind.
	acked = atoi(p.ok("append 50"))
	acked = atoi(p.ok("each 300"))
	fill(t, filler)
	p.full("append 10")
	readAll(p)
	p.ok("close")
	p.exit()

	// Opened on a disk filled to the brim: read-only, and reads work.
	fill(t, filler)
	p = startDiskFullChild(t, dir, diskFullReserve)
	if ro := p.ok("open"); ro != "true true" {
		t.Fatalf("open on a full disk: read-only %s, want true true", ro)
	}
	readAll(p)
	p.full("derived") // read-only, it cannot be created
	p.full("append 1")
	p.full("replicate")
	p.ok("close")
	p.exit()

	// Space freed: writable again, and a crash on a full disk.
	os.Remove(filler)
	p = startDiskFullChild(t, dir, diskFullReserve)
	if ro := p.ok("open"); ro != "false false" {
		t.Fatalf("open with room: read-only %s", ro)
	}
	readAll(p)
	acked = atoi(p.ok("append 200"))
	p.ok("replicate")
	fill(t, filler)
	p.full("append 1")
	p.kill() // Badger's memtable logs are left to replay

	// Opened after the crash, on a full disk: read-only, Badger cannot replay those logs, so the
	// store opens for writing, which cuts the logs' preallocated tails and so frees some space.
	fill(t, filler)
	p = startDiskFullChild(t, dir, diskFullReserve)
	p.ok("open")
	readAll(p)
	fill(t, filler)
	readAll(p)
	p.full("append 1")
	p.ok("close")
	p.exit()

	// And back to normal.
	os.Remove(filler)
	p = startDiskFullChild(t, dir, diskFullReserve)
	if ro := p.ok("open"); ro != "false false" {
		t.Fatalf("open with room: read-only %s", ro)
	}
	acked = atoi(p.ok("append 200"))
	p.ok("replicate")
	p.ok("derived")
	readAll(p)
	p.ok("close")
	p.exit()

	// A derived database that exists opens read-only on a full disk. (The replica may open
	// writable: the owner, opening first, released its reserve file.)
	fill(t, filler)
	p = startDiskFullChild(t, dir, diskFullReserve)
	if ro := p.ok("open"); !strings.HasPrefix(ro, "true ") {
		t.Fatalf("open on a full disk: read-only %s, want the owner read-only", ro)
	}
	p.ok("derived")
	readAll(p)
	p.ok("close")
	p.exit()
}

// TestSpaceGuard checks the reserve's rules on a real filesystem: writes are allowed while the
// reserve is free, refused below it, the reserve file is released when they are, and taken again
// once there is room.
func TestSpaceGuard(t *testing.T) {
	fs := mountTmpfs(t, "64m")
	const reserve = 16 << 20
	g := newSpaceGuard(fs, reserve, quiet())
	g.start(1 << 20)
	reserveFile := filepath.Join(fs, ReserveFileName)
	if got := allocatedBytes(reserveFile); got != reserve/2 {
		t.Fatalf("the reserve file holds %d bytes, want %d", got, reserve/2)
	}
	if err := g.check(1 << 20); err != nil {
		t.Fatal(err)
	}
	// A write that would leave less than the reserve free (counting the reserve file) is refused,
	// and only that one.
	free, _ := freeSpace(fs)
	if err := g.check(free - reserve/2 - 1<<20); err != nil {
		t.Fatalf("a write leaving the reserve free was refused: %v", err)
	}
	if err := g.check(free); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("a write into the reserve: %v, want ErrDiskFull", err)
	}
	if got := allocatedBytes(reserveFile); got != 0 {
		t.Fatalf("after a refused write the reserve file still holds %d bytes", got)
	}
	// Released, the reserve file no longer counts: the whole reserve must be free.
	free, _ = freeSpace(fs)
	if err := g.check(free - reserve + 1<<20); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("without the reserve file a write into the reserve: %v, want ErrDiskFull", err)
	}
	filler := filepath.Join(fs, "filler")
	fill(t, filler)
	err := g.check(0)
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("on a full disk: %v, want ErrDiskFull", err)
	}
	for _, want := range []string{"disk full", fs, "reserve of 16.0 MiB", "free space and retry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
	os.Remove(filler)
	if err := g.check(1 << 20); err != nil {
		t.Fatalf("after space was freed: %v", err)
	}
	if got := allocatedBytes(reserveFile); got != reserve/2 {
		t.Fatalf("after space was freed the reserve file holds %d bytes, want %d", got, reserve/2)
	}
	// Off, it allows everything; read-only, nothing.
	if err := newSpaceGuard(fs, 0, quiet()).check(1 << 40); err != nil {
		t.Fatal(err)
	}
	ro := newSpaceGuard(fs, reserve, quiet())
	ro.readOnly = true
	if err := ro.check(0); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("read-only: %v, want ErrDiskFull", err)
	}
}

// TestWALPreallocated checks that the memtable logs of an open store take their disk space up front,
// the one Badger has open and the ones it creates later.
func TestWALPreallocated(t *testing.T) {
	fs := mountTmpfs(t, "256m")
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(fs, "s"), WithLogger(quiet()), WithDiskReserve(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := int64(storeMemTableSize)
	logs := func() []uint64 { return memtableLogs(filepath.Join(fs, "s")) }
	first := logs()
	if len(first) != 1 {
		t.Fatalf("memtable logs %v, want one", first)
	}
	path := filepath.Join(fs, "s", fmt.Sprintf("%05d.mem", first[0]))
	if got := allocatedBytes(path); got < want {
		t.Fatalf("the memtable log holds %d bytes on disk, want at least %d", got, want)
	}
	// Fill the memtable until Badger starts another: small blocks stay in it.
	c, err := s.Create(ctx, "wal")
	if err != nil {
		t.Fatal(err)
	}
	for logs()[len(logs())-1] == first[0] {
		bs := make([][]byte, 100)
		for k := range bs {
			bs[k] = make([]byte, 4000)
		}
		if _, err := c.Append(ctx, bs[0]); err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if _, err := c.Append(ctx, bs[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.Append(ctx, []byte("one more commit, which checks the disk")); err != nil {
		t.Fatal(err)
	}
	l := logs()
	path = filepath.Join(fs, "s", fmt.Sprintf("%05d.mem", l[len(l)-1]))
	if got := allocatedBytes(path); got < want {
		t.Fatalf("the new memtable log holds %d bytes on disk, want at least %d", got, want)
	}
}

// TestDataFileDiskFull: the replica data file's writes fail with ErrDiskFull, not a bare ENOSPC.
func TestDataFileDiskFull(t *testing.T) {
	fs := mountTmpfs(t, "8m")
	d, err := openDataFile(filepath.Join(fs, DataFileName), false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if _, err := d.append([][]byte{make([]byte, 1<<20)}); err != nil {
		t.Fatal(err)
	}
	fill(t, filepath.Join(fs, "filler"))
	_, err = d.append([][]byte{make([]byte, 1<<20), make([]byte, 1<<20)})
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ErrDiskFull wrapping ENOSPC", err)
	}
	b := make([]byte, 1<<20)
	if err := d.readAt(b, 0); err != nil {
		t.Fatalf("read on a full disk: %v", err)
	}
}

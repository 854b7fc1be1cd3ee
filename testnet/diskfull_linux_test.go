//go:build linux

package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fillFS writes to path until its filesystem has no room left, not even for 512 bytes.
func fillFS(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 512} {
		buf := bytes.Repeat([]byte{0x5a}, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil || int64(st.Bavail)*st.Bsize >= 64<<10 {
		t.Fatalf("filled the filesystem, but %d bytes are free (%v)", int64(st.Bavail)*st.Bsize, err)
	}
}

// TestDaemonDiskFull runs a daemon on a small tmpfs filled to the brim: it goes on answering
// reads, fails appends with a clear error, does not crash, and takes appends again once space is
// freed. Then, with no daemon, the CLI reads the full repo and refuses to write it.
func TestDaemonDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a tmpfs, which needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildBinary(t)
	fs := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(fs, 0o700); err != nil {
		t.Fatal(err)
	}
	// The store keeps its default 128 MiB reserve, and its two memtable logs take 20 MiB each.
	if err := syscall.Mount("tmpfs", fs, "tmpfs", 0, "size=320m"); err != nil {
		t.Skipf("cannot mount a tmpfs at %s: %v", fs, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(fs, 0); err != nil {
			syscall.Unmount(fs, syscall.MNT_DETACH)
		}
	})
	filler := filepath.Join(fs, "filler")
	repo := filepath.Join(fs, "repo")
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--repo", repo)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("datomspace %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	refused := func(args ...string) {
		t.Helper()
		_, err := run("", args...)
		if err == nil {
			t.Fatalf("datomspace %s worked on a full disk", strings.Join(args, " "))
		}
		if !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("on a full disk: %v; want a disk-full error", err)
		}
		if strings.Contains(err.Error(), "SIGBUS") || strings.Contains(err.Error(), "fatal error") {
			t.Fatalf("crashed: %v", err)
		}
	}
	var lines []string
	for i := range 2000 {
		lines = append(lines, fmt.Sprintf("%05d-%s", i, strings.Repeat("b", 2000)))
	}
	checkCat := func(want []string) {
		t.Helper()
		got := strings.Split(strings.TrimSpace(must("", "cat", "disk")), "\n")
		if len(got) != len(want) {
			t.Fatalf("cat printed %d blocks, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("block %d is %.20q, want %.20q", i, got[i], want[i])
			}
		}
	}

	d := startSoakDaemon(t, ctx, bin, fs, "repo")
	must("", "create", "disk")
	must(strings.Join(lines, "\n")+"\n", "append", "disk", "--stdin")

	fillFS(t, filler)
	refused("append", "disk", "one more")
	refused("create", "another")
	checkCat(lines)
	must("", "verify", "disk")
	must("", "info", "disk")
	select {
	case err := <-d.exited:
		t.Fatalf("the daemon exited on a full disk: %v", err)
	default:
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	must("", "append", "disk", "after")
	lines = append(lines, "after")
	checkCat(lines)

	// Full again, and the daemon stops: cleanly.
	fillFS(t, filler)
	refused("append", "disk", "no")
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		logb, _ := os.ReadFile(filepath.Join(fs, "repo.log"))
		if err != nil || bytes.Contains(logb, []byte("SIGBUS")) || bytes.Contains(logb, []byte("fatal error")) {
			t.Fatalf("the daemon stopped with %v:\n%s", err, tail(string(logb), 15))
		}
	case <-time.After(time.Minute):
		t.Fatal("the daemon did not stop")
	}

	// No daemon, the disk filled to the brim: the CLI reads, and refuses to write.
	fillFS(t, filler)
	must("", "verify", "disk")
	checkCat(lines)
	refused("append", "disk", "no")

	os.Remove(filler)
	must("", "append", "disk", "last")
	checkCat(append(lines, "last"))
}

package testnet

import (
	"bufio"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var dockerFlag = flag.Bool("docker", false, "run the scenarios against the docker compose testnet (make testnet-test)")

// buildBinary builds datomspace for the local testnet.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datomspace")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/datomspace").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestLocalScenarios runs the scenarios over local processes on 127.0.0.x.
func TestLocalScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := Up(ctx, t.TempDir(), buildBinary(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	err = Scenarios(ctx, l, func(s Step) { t.Logf("%-60s %8.2fs", s.Name, s.Duration.Seconds()) })
	if err != nil {
		for _, n := range l.Nodes() {
			b, _ := os.ReadFile(filepath.Join(l.Dir, n.Name+".log"))
			t.Logf("--- %s log:\n%s", n.Name, tail(string(b), 15))
		}
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestDockerScenarios runs the scenarios against the docker compose testnet. `make testnet-test`
// builds the image and runs it with -docker.
func TestDockerScenarios(t *testing.T) {
	if !*dockerFlag {
		t.Skip("needs Docker: run `make testnet-test`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := strings.Fields(os.Getenv("DATOMSPACE_TESTNET_COMPOSE"))
	if len(cmd) == 0 {
		cmd = []string{"docker-compose"}
	}
	c := &Compose{Command: cmd, File: "docker-compose.yml", Project: "datomspace-testnet"}
	if err := c.Up(ctx); err != nil {
		t.Fatalf("compose up: %v", err)
	}
	keep := os.Getenv("DATOMSPACE_TESTNET_KEEP") != ""
	defer func() {
		if keep && t.Failed() {
			t.Logf("DATOMSPACE_TESTNET_KEEP is set: the testnet stays up for a look (docker-compose -p %s down -v removes it)", c.Project)
			return
		}
		c.Down(context.Background())
	}()
	err := Scenarios(ctx, c, func(s Step) { t.Logf("%-60s %8.2fs", s.Name, s.Duration.Seconds()) })
	if err != nil {
		for _, n := range []string{"owner", "reader", "replica", "peer"} {
			out, _ := c.compose(context.Background(), nil, "logs", "--tail", "15", n)
			t.Logf("--- %s:\n%s", n, out)
		}
		t.Fatal(err)
	}
}

// TestLocalLiveAfterOwnerRestart: a reader follows a core with `get --live`; the owner stops,
// comes back and appends, and the new blocks reach the live reader.
func TestLocalLiveAfterOwnerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := buildBinary(t)
	l, err := Up(ctx, t.TempDir(), bin, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down()
	out, err := l.Run(ctx, "owner", "create", "feed")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	if _, err := l.Run(ctx, "owner", "append", "feed", "first"); err != nil {
		t.Fatal(err)
	}
	reader, _ := l.node("reader")
	live := exec.CommandContext(ctx, bin, "get", key, "--live", "--repo", reader.Repo)
	stdout, err := live.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer live.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("live reader printed %q, want %q", got, want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("live reader did not print %q", want)
		}
	}
	expect("first")
	if err := l.Stop(ctx, "owner"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, "owner"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := l.Run(ctx, "owner", "append", "feed", "after restart"); err != nil {
		t.Fatal(err)
	}
	expect("after restart")
	t.Logf("live append reached the reader %.2fs after the restarted owner appended", time.Since(t0).Seconds())
}

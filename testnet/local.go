package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local is a testnet of local processes. Node k listens on 127.0.0.(k+2), so every peer has its
// own loopback address, as it would have its own host; nothing leaves the machine.
type Local struct {
	// Dir holds every node's repo and log, and the state file `testnet down` reads.
	Dir string
	// Bin is the datomspace binary.
	Bin string

	mu        sync.Mutex
	nodes     map[string]*LocalNode
	order     []string
	bootstrap string
	next      int
}

// LocalNode is one process of a Local testnet.
type LocalNode struct {
	Name   string   `json:"name"`
	Repo   string   `json:"repo"`
	IP     string   `json:"ip"`
	PID    int      `json:"pid"`
	PeerID string   `json:"peerID"`
	Addrs  []string `json:"addrs"`
	Follow string   `json:"follow,omitempty"`
	cmd    *exec.Cmd
}

const stateFile = "testnet.json"

// Up starts a bootstrap peer, an owner, a reader and a replica, plus peers more plain peers, as
// processes of bin under dir.
func Up(ctx context.Context, dir, bin string, peers int) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, fmt.Errorf("a testnet is already running in %s (stop it with `datomspace testnet down --dir %s`)", dir, dir)
	}
	l := &Local{Dir: dir, Bin: bin, nodes: map[string]*LocalNode{}}
	names := []string{"bootstrap", "owner", "reader", "replica"}
	for i := 1; i <= peers; i++ {
		names = append(names, fmt.Sprintf("peer-%d", i))
	}
	for _, n := range names {
		if _, err := l.add(ctx, n, ""); err != nil {
			l.Down()
			return nil, err
		}
	}
	return l, nil
}

// Nodes returns the nodes in start order.
func (l *Local) Nodes() []LocalNode {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LocalNode
	for _, n := range l.order {
		out = append(out, *l.nodes[n])
	}
	return out
}

func (l *Local) add(ctx context.Context, name, follow string) (*LocalNode, error) {
	l.mu.Lock()
	ip := fmt.Sprintf("127.0.0.%d", l.next+2)
	l.next++
	n := &LocalNode{Name: name, Repo: filepath.Join(l.Dir, name), IP: ip, Follow: follow}
	l.nodes[name] = n
	l.order = append(l.order, name)
	l.mu.Unlock()
	if err := l.start(ctx, n); err != nil {
		return nil, err
	}
	if name == "bootstrap" {
		l.bootstrap = n.Addrs[0]
	}
	return n, l.save()
}

// start runs `serve` for n and waits for the addresses it prints.
func (l *Local) start(ctx context.Context, n *LocalNode) error {
	args := []string{"serve", "--init", "--json", "--repo", n.Repo, "--listen", "/ip4/" + n.IP + "/tcp/0"}
	if n.Name != "bootstrap" && l.bootstrap != "" {
		args = append(args, "--bootstrap", l.bootstrap)
	}
	if n.Follow != "" {
		args = append(args, "--follow", n.Follow)
	}
	os.MkdirAll(n.Repo, 0o700)
	logPath := filepath.Join(l.Dir, n.Name+".log")
	out := filepath.Join(l.Dir, n.Name+".out")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	of, err := os.Create(out)
	if err != nil {
		lf.Close()
		return err
	}
	cmd := exec.Command(l.Bin, args...)
	cmd.Stdout, cmd.Stderr = of, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // survives the `testnet up` command
	if err := cmd.Start(); err != nil {
		lf.Close()
		of.Close()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	lf.Close()
	of.Close()
	n.cmd, n.PID = cmd, cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if line, _, ok := bytes.Cut(b, []byte("\n")); ok {
			var v struct {
				PeerID string   `json:"peerID"`
				Addrs  []string `json:"addrs"`
			}
			if err := json.Unmarshal(line, &v); err != nil || len(v.Addrs) == 0 {
				return fmt.Errorf("%s printed %q", n.Name, line)
			}
			n.PeerID, n.Addrs = v.PeerID, v.Addrs
			return nil
		}
		select {
		case err := <-exited:
			logb, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s exited (%v): %s", n.Name, err, lastLine(logb))
		case <-deadline:
			return fmt.Errorf("%s did not start within 20 s (see %s)", n.Name, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func (l *Local) save() error {
	b, err := json.MarshalIndent(l.Nodes(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, stateFile), b, 0o600)
}

func (l *Local) node(name string) (*LocalNode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node %q in the testnet", name)
	}
	return n, nil
}

// Run implements Cluster: it runs the CLI against the node's repo, so through its daemon.
func (l *Local) Run(ctx context.Context, node string, args ...string) (string, error) {
	n, err := l.node(node)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, l.Bin, append(args, "--repo", n.Repo)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: datomspace %s: %v: %s", node, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Stop implements Cluster: SIGTERM, and SIGKILL after 10 s.
func (l *Local) Stop(ctx context.Context, node string) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	return stopPID(n.PID)
}

func stopPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	for i := 0; i < 200; i++ {
		if p.Signal(syscall.Signal(0)) != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p.Signal(syscall.SIGKILL)
}

// Start implements Cluster.
func (l *Local) Start(ctx context.Context, node string) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	if err := l.start(ctx, n); err != nil {
		return err
	}
	return l.save()
}

// Partition implements Cluster: the process is frozen (SIGSTOP), so its connections stall.
func (l *Local) Partition(ctx context.Context, node string) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	return syscall.Kill(n.PID, syscall.SIGSTOP)
}

// Heal implements Cluster.
func (l *Local) Heal(ctx context.Context, node string) error {
	n, err := l.node(node)
	if err != nil {
		return err
	}
	return syscall.Kill(n.PID, syscall.SIGCONT)
}

// AddPeers implements Cluster.
func (l *Local) AddPeers(ctx context.Context, count int, key string) ([]string, error) {
	var names []string
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("follower-%d", len(l.Nodes()))
		if _, err := l.add(ctx, name, key); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// NewNode implements Cluster.
func (l *Local) NewNode(ctx context.Context) (string, error) {
	name := fmt.Sprintf("joiner-%d", len(l.Nodes()))
	_, err := l.add(ctx, name, "")
	return name, err
}

// Down stops every node and removes the state file.
func (l *Local) Down() error {
	var errs []error
	for _, n := range l.Nodes() {
		syscall.Kill(n.PID, syscall.SIGCONT)
		errs = append(errs, stopPID(n.PID))
	}
	os.Remove(filepath.Join(l.Dir, stateFile))
	return errors.Join(errs...)
}

// Down stops the testnet whose state is in dir, as `datomspace testnet down` does.
func Down(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return fmt.Errorf("no testnet is running in %s: %w", dir, err)
	}
	var nodes []LocalNode
	if err := json.Unmarshal(b, &nodes); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	var errs []error
	for _, n := range nodes {
		syscall.Kill(n.PID, syscall.SIGCONT)
		errs = append(errs, stopPID(n.PID))
	}
	os.Remove(filepath.Join(dir, stateFile))
	return errors.Join(errs...)
}

package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BootstrapAddr is the compose testnet's bootstrap multiaddr, fixed by testnet/bootstrap.key.
const BootstrapAddr = "/dns4/bootstrap/tcp/4001/p2p/12D3KooWScpxFHiPfM1f4JkMF2uvwhLbV3JzdmfTQWv7YTUBuGfK"

// Compose is the docker compose testnet as a Cluster. Node names are the compose services
// (bootstrap, owner, reader, replica), "peer#N" for the Nth scaled peer, and the names NewNode
// returns for late joiners.
type Compose struct {
	// Command is the compose command: ["docker", "compose"] (v2) or ["docker-compose"] (v1).
	Command []string
	// File is the compose file; Project the compose project name.
	File, Project string

	mu      sync.Mutex
	joiners int
	scaled  int
}

func (c *Compose) compose(ctx context.Context, env []string, args ...string) (string, error) {
	full := append(append(append([]string{}, c.Command[1:]...), "-f", c.File, "-p", c.Project), args...)
	cmd := exec.CommandContext(ctx, c.Command[0], full...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", strings.Join(c.Command, " "), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Up starts the fixed services and waits until each answers.
func (c *Compose) Up(ctx context.Context) error {
	c.compose(ctx, nil, "down", "-v", "--remove-orphans")
	if _, err := c.compose(ctx, nil, "up", "-d", "bootstrap", "owner", "reader", "replica"); err != nil {
		return err
	}
	for _, n := range []string{"bootstrap", "owner", "reader", "replica"} {
		if err := c.waitReady(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// Down removes the testnet.
func (c *Compose) Down(ctx context.Context) error {
	_, err := c.compose(ctx, nil, "down", "-v", "--remove-orphans")
	return err
}

// container returns the container ID of a node.
func (c *Compose) container(ctx context.Context, node string) (string, error) {
	if strings.HasPrefix(node, "joiner-") {
		return c.Project + "-" + node, nil
	}
	service, idx := node, 1
	if s, n, ok := strings.Cut(node, "#"); ok {
		service = s
		idx, _ = strconv.Atoi(n)
	}
	// By compose's labels, not `compose ps`: that lists the joiners too (one-off containers of
	// the peer service, made by `compose run`), and in no fixed order.
	out, err := docker(ctx, "ps", "-q",
		"--filter", "label=com.docker.compose.project="+c.Project,
		"--filter", "label=com.docker.compose.service="+service,
		"--filter", "label=com.docker.compose.oneoff=False",
		"--filter", "label=com.docker.compose.container-number="+strconv.Itoa(idx))
	if err != nil {
		return "", err
	}
	ids := strings.Fields(out)
	if len(ids) != 1 {
		return "", fmt.Errorf("%d running containers for %s (service %s, number %d), want 1", len(ids), node, service, idx)
	}
	return ids[0], nil
}

// Run implements Cluster.
func (c *Compose) Run(ctx context.Context, node string, args ...string) (string, error) {
	id, err := c.container(ctx, node)
	if err != nil {
		return "", err
	}
	out, err := docker(ctx, append([]string{"exec", id, "datomspace"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: %w", node, err)
	}
	return out, nil
}

func (c *Compose) waitReady(ctx context.Context, node string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.Run(ctx, node, "id", "--json")
		if err == nil && strings.Contains(out, `"running":true`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not serving after 30 s: %v", node, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop implements Cluster.
func (c *Compose) Stop(ctx context.Context, node string) error {
	_, err := c.compose(ctx, nil, "stop", node)
	return err
}

// Start implements Cluster.
func (c *Compose) Start(ctx context.Context, node string) error {
	if _, err := c.compose(ctx, nil, "start", node); err != nil {
		return err
	}
	return c.waitReady(ctx, node)
}

func (c *Compose) network() string { return c.Project + "_testnet" }

// Partition implements Cluster: the node's container leaves the testnet network.
func (c *Compose) Partition(ctx context.Context, node string) error {
	id, err := c.container(ctx, node)
	if err != nil {
		return err
	}
	_, err = docker(ctx, "network", "disconnect", c.network(), id)
	return err
}

// Heal implements Cluster.
func (c *Compose) Heal(ctx context.Context, node string) error {
	id, err := c.container(ctx, node)
	if err != nil {
		return err
	}
	_, err = docker(ctx, "network", "connect", c.network(), id)
	return err
}

// AddPeers implements Cluster: it scales the peer service, whose peers follow key.
func (c *Compose) AddPeers(ctx context.Context, n int, key string) ([]string, error) {
	c.mu.Lock()
	c.scaled += n
	total := c.scaled
	c.mu.Unlock()
	if _, err := c.compose(ctx, []string{"CORE_KEY=" + key}, "up", "-d", "--no-recreate", "--scale", fmt.Sprintf("peer=%d", total), "peer"); err != nil {
		return nil, err
	}
	var names []string
	for i := 1; i <= total; i++ {
		names = append(names, fmt.Sprintf("peer#%d", i))
	}
	for _, name := range names {
		if err := c.waitReady(ctx, name); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// NewNode implements Cluster: a new container of the peer service that follows nothing.
func (c *Compose) NewNode(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.joiners++
	name := fmt.Sprintf("joiner-%d", c.joiners)
	c.mu.Unlock()
	_, err := c.compose(ctx, nil, "run", "-d", "--no-deps", "--name", c.Project+"-"+name, "--entrypoint", "/usr/local/bin/datomspace",
		"peer", "serve", "--init", "--listen", "/ip4/0.0.0.0/tcp/4001", "--bootstrap", BootstrapAddr)
	if err != nil {
		return "", err
	}
	return name, c.waitReady(ctx, name)
}

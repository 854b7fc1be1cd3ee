package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Cluster is a running testnet the scenarios drive.
type Cluster interface {
	// Run runs the datomspace CLI on a node (through its daemon) and returns standard output.
	Run(ctx context.Context, node string, args ...string) (string, error)
	// Stop stops a node; Start starts it again with its repo.
	Stop(ctx context.Context, node string) error
	Start(ctx context.Context, node string) error
	// Partition cuts a node off from the network; Heal reconnects it.
	Partition(ctx context.Context, node string) error
	Heal(ctx context.Context, node string) error
	// AddPeers starts n more peers that follow the core with key, and returns their names.
	AddPeers(ctx context.Context, n int, key string) ([]string, error)
	// NewNode starts one more plain peer (a late joiner) and returns its name.
	NewNode(ctx context.Context) (string, error)
}

// Step is one timed scenario step.
type Step struct {
	Name     string
	Duration time.Duration
}

// coreInfo is the part of `info --json` the scenarios read.
type coreInfo struct {
	Key       string `json:"key"`
	Length    uint64 `json:"length"`
	Contig    uint64 `json:"contiguousLength"`
	Signature string `json:"signature"`
}

func info(ctx context.Context, c Cluster, node, key string) (coreInfo, error) {
	out, err := c.Run(ctx, node, "info", key, "--json")
	if err != nil {
		return coreInfo{}, err
	}
	var in coreInfo
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		return coreInfo{}, fmt.Errorf("%s: info --json: %w: %q", node, err, out)
	}
	return in, nil
}

// converge waits until every node holds the core complete, at want's length and signature.
func converge(ctx context.Context, c Cluster, key string, want coreInfo, nodes ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, n := range nodes {
		var last coreInfo // the last info the node answered
		var lastErr error
		for {
			in, err := info(ctx, c, n, key)
			if err == nil {
				last = in
				if in.Length == want.Length && in.Contig == want.Length && in.Signature == want.Signature {
					break
				}
			} else if ctx.Err() == nil {
				lastErr = err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not converge to length %d within 90 s: it last said %+v (last error: %v)", n, want.Length, last, lastErr)
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	return nil
}

// getLines runs `get KEY` on node and returns the printed blocks.
func getLines(ctx context.Context, c Cluster, node, key string, extra ...string) ([]string, error) {
	out, err := c.Run(ctx, node, append([]string{"get", key, "--timeout", "60s"}, extra...)...)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), nil
}

// Scenarios runs the testnet scenarios in order and reports each step's time:
//
//  1. the owner creates a datom core;
//  2. the reader gets it through the DHT and answers a query as the owner does;
//  3. the replica takes a copy and follows the core, the owner stops, and a new reader gets the core
//     from the replica;
//  4. the owner comes back; the replica is partitioned, the owner appends, the partition heals,
//     and the replica converges to the owner's length and signature;
//  5. a late joiner gets the whole core;
//  6. ten scaled peers all reach the same length.
func Scenarios(ctx context.Context, c Cluster, report func(Step)) error {
	var key string
	var want coreInfo
	var wantRows string
	datoms := [][3]string{{"contact/1", "contact/name", "Alice"}, {"contact/1", "contact/city", "Beijing"}, {"contact/2", "contact/name", "Bob"}}
	const query = `{"find":["?e","?name"],"where":[["?e","contact/name","?name"]]}`
	// sameAnswers fetches the core on node and checks that it answers the query as the owner did.
	sameAnswers := func(node string) error {
		if _, err := getLines(ctx, c, node, key); err != nil {
			return err
		}
		got, err := c.Run(ctx, node, "query", key, query, "--json")
		if err != nil {
			return err
		}
		if got != wantRows {
			return fmt.Errorf("%s answers %s, the owner answered %s", node, got, wantRows)
		}
		return nil
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"owner creates a datom core", func() error {
			for _, d := range datoms {
				if _, err := c.Run(ctx, "owner", "put", "contacts", d[0], d[1], d[2]); err != nil {
					return err
				}
			}
			var err error
			if want, err = info(ctx, c, "owner", "contacts"); err != nil {
				return err
			}
			key = want.Key
			wantRows, err = c.Run(ctx, "owner", "query", "contacts", query, "--json")
			return err
		}},
		{"reader gets it through the DHT", func() error { return sameAnswers("reader") }},
		{"owner stops; a new reader gets the core from the replica", func() error {
			if _, err := c.Run(ctx, "replica", "get", key, "--follow"); err != nil {
				return fmt.Errorf("replica copy: %w", err)
			}
			if err := c.Stop(ctx, "owner"); err != nil {
				return err
			}
			n, err := c.NewNode(ctx)
			if err != nil {
				return err
			}
			if err := sameAnswers(n); err != nil {
				return fmt.Errorf("with the owner gone: %w", err)
			}
			return nil
		}},
		{"partition the replica, append, heal, converge", func() error {
			if err := c.Start(ctx, "owner"); err != nil {
				return err
			}
			if err := c.Partition(ctx, "replica"); err != nil {
				return err
			}
			for _, d := range [][3]string{{"contact/3", "contact/name", "Carol"}, {"contact/3", "contact/city", "Paris"}} {
				if _, err := c.Run(ctx, "owner", "put", "contacts", d[0], d[1], d[2]); err != nil {
					return err
				}
			}
			var err error
			if want, err = info(ctx, c, "owner", key); err != nil {
				return err
			}
			if err := c.Heal(ctx, "replica"); err != nil {
				return err
			}
			return converge(ctx, c, key, want, "replica")
		}},
		{"a late joiner gets the whole core", func() error {
			n, err := c.NewNode(ctx)
			if err != nil {
				return err
			}
			if _, err := getLines(ctx, c, n, key); err != nil {
				return err
			}
			return converge(ctx, c, key, want, n)
		}},
		{"10 scaled peers reach the same length", func() error {
			peers, err := c.AddPeers(ctx, 10, key)
			if err != nil {
				return err
			}
			return converge(ctx, c, key, want, peers...)
		}},
	}
	for i, s := range steps {
		t0 := time.Now()
		if err := s.run(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.name, err)
		}
		report(Step{Name: fmt.Sprintf("%d. %s", i+1, s.name), Duration: time.Since(t0)})
	}
	return nil
}

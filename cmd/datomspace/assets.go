package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/datomspace/datomspace/datom/asset"
	"github.com/datomspace/datomspace/peer"
)

func assetCommands() []command {
	return []command{
		{name: "asset", usage: "create NAME --core CORE [--attrs a,b] [--prefix P] [--category C] [--level public|granted|encrypted|compute] [--query Q]... | ls [--catalog KEY] | show NAME [--catalog KEY] | state NAME STATE | query CORE QUERY [--peer MULTIADDR]... [--json]",
			summary: "data assets: make a core (or part of it) an asset, list and show them, query a compute asset", run: cmdAsset,
			args: "  create   add an asset to your catalog; CORE is a core you write (name or key)\n" +
				"  ls       list the assets of your catalog (or of another owner's you follow)\n" +
				"  show     describe one asset\n" +
				"  state    set an asset's lifecycle state: active, end-of-life, deprecated, retired, closed, unlisted\n" +
				"  query    run a query on a core at the peer that holds it; a compute asset answers only its allowed queries"},
		{name: "grant", usage: "ASSET GRANTEE [--actions read,replicate,query,grant] [--expires DURATION|RFC3339] [--not-before T] [--volume N] [--max-stale DURATION] [--parent GRANT] [--json]",
			summary: "grant a peer a right to one of your assets; prints the grant id", run: cmdGrant,
			args: "  ASSET     the asset's name in your catalog\n  GRANTEE   a libp2p peer ID (as `datomspace id` prints it) or an Ed25519 did:key"},
		{name: "grants", usage: "[ASSET] [--json] | import TOKEN",
			summary: "list the grants of your assets, those to you this peer knows of, and the delegated ones you hold; import a delegated grant", run: cmdGrants},
		{name: "revoke", usage: "GRANT [--json]",
			summary: "revoke a grant; every peer that enforces it refuses it from its next check", run: cmdRevoke,
			args: "  GRANT   the grant id, or at least its first 8 characters"},
		{name: "prove", usage: "CORE E [A] --out FILE | CORE --block N --out FILE [--json]",
			summary: "write a self-contained ownership proof of a datom (its block, Merkle proof, signed head, manifest)", run: cmdProve,
			args: "  CORE   the core (name or key)\n  E      the entity\n  A      the attribute (default: the entity's newest transaction)"},
		{name: "check-proof", usage: "FILE [--json]",
			summary: "verify an ownership proof offline and say who signed what, and when", run: cmdCheckProof},
		{name: "truncate", usage: "NAME|KEY LENGTH [--json]",
			summary: "truncate a core of your own to LENGTH blocks (a new fork); replicas follow", run: cmdTruncate},
		{name: "setkey", usage: "NAME|KEY --encryption-key HEX | --block-key HEX [--json]",
			summary: "give a replica of an encrypted core its key, checked against its key check value", run: cmdSetKey},
	}
}

func cmdAsset(ctx context.Context, e *env, args []string) error {
	if wantsHelp(args) {
		return showHelp(e)
	}
	if len(args) == 0 {
		return usagef("asset needs a subcommand: create, ls, show, state or query")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "create":
		return assetCreate(ctx, e, rest)
	case "ls", "list":
		return assetList(ctx, e, rest)
	case "show":
		return assetShow(ctx, e, rest)
	case "state":
		return assetState(ctx, e, rest)
	case "query":
		return assetQuery(ctx, e, rest)
	}
	return usagef("unknown asset subcommand %q: create, ls, show, state or query", sub)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func assetCreate(ctx context.Context, e *env, args []string) error {
	f := newFlags("asset create", e).withRepo().withJSON()
	core := f.String("core", "", "the member core: a core you write, by name or key")
	attrs := f.String("attrs", "", "only these attributes, comma-separated (served by query only)")
	prefix := f.String("prefix", "", "only the entities whose ids start with this (served by query only)")
	category := f.String("category", "", "the asset's category")
	level := f.String("level", "public", "security level: public, granted, encrypted or compute")
	doc := f.String("doc", "", "a description")
	var queries stringList
	f.Var(&queries, "query", "an allowed query of a compute asset, JSON or EDN (repeatable)")
	return f.withBackend(ctx, e, args, nargs(1, "asset create takes one NAME"), func(b peer.Backend, pos []string) error {
		if *core == "" {
			return usagef("asset create needs --core CORE")
		}
		in, err := peer.Call(ctx, b, peer.OpAssetCreate, peer.AssetCreateRequest{Name: pos[0], Core: *core, Attrs: splitList(*attrs),
			Prefix: *prefix, Category: *category, Level: *level, Queries: queries, Doc: *doc})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, in)
		}
		fmt.Fprintf(e.stdout, "asset %s (%s) in catalog %s\n", in.Name, in.Level, in.Catalog)
		return nil
	})
}

func assetList(ctx context.Context, e *env, args []string) error {
	f := newFlags("asset ls", e).withRepo().withJSON()
	catalog := f.String("catalog", "", "another owner's catalog core KEY (default: yours)")
	return f.withBackend(ctx, e, args, nargs(0, "asset ls takes no arguments"), func(b peer.Backend, pos []string) error {
		as, err := peer.Call(ctx, b, peer.OpAssets, peer.AssetsRequest{Catalog: *catalog})
		if err != nil {
			return err
		}
		if *f.json {
			for _, a := range as {
				if err := printJSON(e.stdout, a); err != nil {
					return err
				}
			}
			return nil
		}
		if len(as) == 0 {
			fmt.Fprintln(e.stderr, "no assets yet: make one with `datomspace asset create NAME --core CORE`")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tLEVEL\tSTATE\tCATEGORY\tMEMBERS")
		for _, a := range as {
			var ms []string
			for _, m := range a.Members {
				ms = append(ms, memberText(m))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Level, a.State, dash(a.Category), strings.Join(ms, " "))
		}
		return tw.Flush()
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func memberText(m peer.MemberInfo) string {
	s := m.Core[:16] + "…"
	if len(m.Attrs) > 0 {
		s += "[" + strings.Join(m.Attrs, ",") + "]"
	}
	if m.Prefix != "" {
		s += "{" + m.Prefix + "*}"
	}
	return s
}

func assetShow(ctx context.Context, e *env, args []string) error {
	f := newFlags("asset show", e).withRepo().withJSON()
	catalog := f.String("catalog", "", "another owner's catalog core KEY (default: yours)")
	return f.withBackend(ctx, e, args, nargs(1, "asset show takes one NAME"), func(b peer.Backend, pos []string) error {
		a, err := peer.Call(ctx, b, peer.OpAssetShow, peer.AssetRef{Name: pos[0], Catalog: *catalog})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, a)
		}
		printAsset(e, a)
		return nil
	})
}

func printAsset(e *env, a peer.AssetInfo) {
	w := e.stdout
	fmt.Fprintf(w, "name       %s\n", a.Name)
	fmt.Fprintf(w, "level      %s\n", a.Level)
	fmt.Fprintf(w, "state      %s\n", a.State)
	if a.Category != "" {
		fmt.Fprintf(w, "category   %s\n", a.Category)
	}
	fmt.Fprintf(w, "owner      %s\n", a.Owner)
	fmt.Fprintf(w, "catalog    %s\n", a.Catalog)
	fmt.Fprintf(w, "grants     %s\n", a.Grants)
	for _, m := range a.Members {
		fmt.Fprintf(w, "member     %s", m.Core)
		if len(m.Attrs) > 0 {
			fmt.Fprintf(w, " attributes %s", strings.Join(m.Attrs, ","))
		}
		if m.Prefix != "" {
			fmt.Fprintf(w, " entities %s*", m.Prefix)
		}
		fmt.Fprintln(w)
	}
	for _, p := range a.Pins {
		fmt.Fprintf(w, "version    %s at length %d, tree hash %s\n", p.Core, p.Length, p.TreeHash)
	}
	for i, ep := range a.Epochs {
		fmt.Fprintf(w, "epoch %-4d %s since %s, key check %s\n", i, ep.Core, ep.Since.Format(time.RFC3339), ep.KeyCheck)
	}
	for _, q := range a.Queries {
		fmt.Fprintf(w, "query      %s\n", q)
	}
	for k, v := range a.Schema {
		fmt.Fprintf(w, "schema     %s: %s\n", k, v)
	}
	if a.Doc != "" {
		fmt.Fprintf(w, "doc        %s\n", a.Doc)
	}
}

func assetState(ctx context.Context, e *env, args []string) error {
	f := newFlags("asset state", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(2, "asset state takes NAME STATE"), func(b peer.Backend, pos []string) error {
		a, err := peer.Call(ctx, b, peer.OpAssetState, peer.AssetStateRequest{Name: pos[0], State: pos[1]})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, a)
		}
		fmt.Fprintf(e.stdout, "asset %s is %s\n", a.Name, a.State)
		return nil
	})
}

func assetQuery(ctx context.Context, e *env, args []string) error {
	f := newFlags("asset query", e).withRepo().withJSON()
	var peers stringList
	f.Var(&peers, "peer", "the peer to ask, a full multiaddr with /p2p/ (repeatable; default: the core's providers)")
	return f.withBackend(ctx, e, args, nargs(2, "asset query takes CORE QUERY"), func(b peer.Backend, pos []string) error {
		res, err := peer.Call(ctx, b, peer.OpAssetQuery, peer.AssetQueryRequest{Core: pos[0], Query: pos[1], Peers: peers})
		if err != nil {
			return err
		}
		if *f.json {
			for _, row := range res.Rows {
				if err := printJSON(e.stdout, row); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = fmt.Sprint(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	})
}

// parseWhen reads a time flag: a duration from now ("720h", "30m") or an RFC 3339 time.
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--%s %s: a duration from now must be positive", name, s)
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q is neither a duration (720h) nor an RFC 3339 time (2026-01-02T15:04:05Z)", name, s)
}

func cmdGrant(ctx context.Context, e *env, args []string) error {
	f := newFlags("grant", e).withRepo().withJSON()
	actions := f.String("actions", "read", "what the grantee may do, comma-separated: read, replicate, query, grant")
	expires := f.String("expires", "", "when the grant ends: a duration from now (720h) or an RFC 3339 time (default: never)")
	notBefore := f.String("not-before", "", "when the grant starts: a duration from now or an RFC 3339 time (default: now)")
	volume := f.Uint64("volume", 0, "how many accesses the grant allows (0: no limit; metered by agreements)")
	maxStale := f.Duration("max-stale", asset.DefaultMaxStale, "how old a replica's copy of your grants may be when it enforces this grant")
	parent := f.String("parent", "", "delegate from this grant to you (it must allow grant); prints a token for the grantee")
	return f.withBackend(ctx, e, args, nargs(2, "grant takes ASSET GRANTEE"), func(b peer.Backend, pos []string) error {
		now := time.Now()
		exp, err := parseWhen("expires", *expires, now)
		if err != nil {
			return err
		}
		nbf, err := parseWhen("not-before", *notBefore, now)
		if err != nil {
			return err
		}
		if *maxStale <= 0 {
			return usagef("--max-stale must be positive")
		}
		g, err := peer.Call(ctx, b, peer.OpGrant, peer.GrantRequest{Asset: pos[0], Grantee: pos[1], Actions: *actions, NotBefore: nbf,
			Expires: exp, Volume: *volume, MaxStale: *maxStale, Parent: *parent})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, g)
		}
		fmt.Fprintln(e.stdout, g.ID)
		if g.Token != "" {
			fmt.Fprintf(e.stderr, "a delegated grant: give the grantee this token to import with `datomspace grants import TOKEN`:\n%s\n", g.Token)
		}
		return nil
	})
}

func cmdGrants(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "import" {
		f := newFlags("grants import", e).withRepo().withJSON()
		return f.withBackend(ctx, e, args[1:], nargs(1, "grants import takes one TOKEN"), func(b peer.Backend, pos []string) error {
			g, err := peer.Call(ctx, b, peer.OpHoldGrant, peer.HoldGrantRequest{Token: pos[0]})
			if err != nil {
				return err
			}
			if *f.json {
				return printJSON(e.stdout, g)
			}
			fmt.Fprintf(e.stdout, "holding grant %s (%s on %s); it is presented by itself\n", g.ID, g.Actions, g.Asset)
			return nil
		})
	}
	f := newFlags("grants", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, func(pos []string) error {
		if len(pos) > 1 {
			return usagef("grants takes at most one ASSET")
		}
		return nil
	}, func(b peer.Backend, pos []string) error {
		req := peer.GrantsRequest{}
		if len(pos) == 1 {
			req.Asset = pos[0]
		}
		gs, err := peer.Call(ctx, b, peer.OpGrants, req)
		if err != nil {
			return err
		}
		if *f.json {
			for _, g := range gs {
				if err := printJSON(e.stdout, g); err != nil {
					return err
				}
			}
			return nil
		}
		if len(gs) == 0 {
			fmt.Fprintln(e.stderr, "no grants")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tASSET\tGRANTEE\tACTIONS\tEXPIRES\tSTATUS")
		for _, g := range gs {
			exp := "never"
			if g.Expires != nil {
				exp = g.Expires.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID[:16], g.Asset, g.Grantee, g.Actions, exp, g.Status)
		}
		return tw.Flush()
	})
}

func cmdRevoke(ctx context.Context, e *env, args []string) error {
	f := newFlags("revoke", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(1, "revoke takes one GRANT"), func(b peer.Backend, pos []string) error {
		r, err := peer.Call(ctx, b, peer.OpRevoke, peer.RevokeRequest{Grant: pos[0]})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, r)
		}
		fmt.Fprintf(e.stdout, "revoked %s\n", r.Grant)
		if r.Epoch != nil {
			fmt.Fprintf(e.stdout, "the asset moved to a new key epoch: core %s; append new data there (the revoked grantee keeps what it had)\n", r.Epoch.Core)
		}
		if !b.Daemon() {
			fmt.Fprintln(e.stderr, "note: no daemon runs: replicas hear of the revocation when `datomspace serve` runs; they refuse the grant anyway once your grants are older than its max-stale")
		}
		return nil
	})
}

func cmdProve(ctx context.Context, e *env, args []string) error {
	f := newFlags("prove", e).withRepo().withJSON()
	out := f.String("out", "", "write the proof to FILE")
	block := f.Int64("block", -1, "prove this block instead of an entity's transaction")
	return f.withBackend(ctx, e, args, func(pos []string) error {
		switch {
		case *out == "":
			return usagef("prove needs --out FILE")
		case *block >= 0 && len(pos) != 1:
			return usagef("prove CORE --block N takes only CORE")
		case *block < 0 && (len(pos) < 2 || len(pos) > 3):
			return usagef("prove takes CORE E [A]")
		}
		return nil
	}, func(b peer.Backend, pos []string) error {
		req := peer.ProveRequest{Ref: pos[0]}
		if *block >= 0 {
			i := uint64(*block)
			req.Index = &i
		} else {
			req.Entity = pos[1]
			if len(pos) == 3 {
				req.Attribute = pos[2]
			}
		}
		p, err := peer.Call(ctx, b, peer.OpProve, req)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, p.File, 0o644); err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, map[string]any{"file": *out, "core": p.Core, "index": p.Index, "length": p.Length, "owner": p.Owner, "forkProof": p.Fork})
		}
		if p.Fork {
			fmt.Fprintf(e.stdout, "wrote a fork proof of core %s to %s: its owner signed two different trees\n", p.Core, *out)
			return nil
		}
		fmt.Fprintf(e.stdout, "wrote the proof of block %d of core %s (length %d) to %s\n", p.Index, p.Core, p.Length, *out)
		return nil
	})
}

// ProofReport is what check-proof prints with --json.
type proofReport struct {
	Valid     bool             `json:"valid"`
	Core      string           `json:"core"`
	Signer    string           `json:"signer"`
	Owner     string           `json:"owner,omitempty"`
	OwnerDID  string           `json:"ownerDID,omitempty"`
	Catalog   string           `json:"catalog,omitempty"`
	Fork      uint64           `json:"fork"`
	Length    uint64           `json:"length"`
	TreeHash  string           `json:"treeHash"`
	Block     *uint64          `json:"block,omitempty"`
	TxTime    *time.Time       `json:"txTime,omitempty"`
	Datoms    []map[string]any `json:"datoms,omitempty"`
	ForkProof bool             `json:"forkProof,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// cmdCheckProof verifies a proof file with nothing but the file: no repo, no network.
func cmdCheckProof(ctx context.Context, e *env, args []string) error {
	f := newFlags("check-proof", e).withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("check-proof takes one FILE")
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	p, err := asset.DecodeProof(b)
	var v *asset.Verdict
	if err == nil {
		v, err = p.Verify()
	}
	if err != nil {
		if *f.json {
			printJSON(e.stdout, proofReport{Error: err.Error()})
		}
		return fmt.Errorf("%s does not verify: %w", pos[0], err)
	}
	rep := proofReport{Valid: true, Core: v.Core.String(), Signer: fmt.Sprintf("%x", v.Signer), Fork: v.Fork, Length: v.Length,
		TreeHash: v.TreeHash.String(), ForkProof: v.Conflict != nil}
	if v.Owner != nil {
		rep.Owner, rep.OwnerDID, rep.Catalog = v.Owner.Owner.String(), v.Owner.Owner.DID(), v.Owner.Catalog.String()
	}
	if v.Block != nil {
		i := v.Index
		rep.Block = &i
	}
	if v.Tx != nil {
		t := v.Tx.Time
		rep.TxTime = &t
	}
	for _, d := range v.Datoms {
		rep.Datoms = append(rep.Datoms, map[string]any{"e": d.E, "a": d.A, "v": d.V.JSON(), "added": d.Added})
	}
	if *f.json {
		return printJSON(e.stdout, rep)
	}
	w := e.stdout
	if v.Conflict != nil {
		fmt.Fprintf(w, "FORK PROOF: the owner of core %s signed two different trees of length %d at fork %d\n", rep.Core, v.Length, v.Fork)
		fmt.Fprintf(w, "  tree hash %s\n  tree hash %s\n", v.TreeHash, v.Conflict.TreeHash)
		return nil
	}
	fmt.Fprintf(w, "valid: core %s\n", rep.Core)
	fmt.Fprintf(w, "  signed by ed25519 key %s (the core's manifest)\n", rep.Signer)
	if v.Owner != nil {
		fmt.Fprintf(w, "  owned by %s (%s): the core's key attests it\n", rep.Owner, rep.OwnerDID)
	}
	fmt.Fprintf(w, "  in its signed tree of length %d at fork %d, tree hash %s\n", v.Length, v.Fork, rep.TreeHash)
	fmt.Fprintf(w, "  block %d", v.Index)
	if v.Tx != nil {
		fmt.Fprintf(w, ", a transaction written at %s (the writer's clock)", v.Tx.Time.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for _, d := range v.Datoms {
		op := "asserted"
		if !d.Added {
			op = "retracted"
		}
		fmt.Fprintf(w, "  %s: %s %s %s\n", op, d.E, d.A, d.V)
	}
	return nil
}

func cmdTruncate(ctx context.Context, e *env, args []string) error {
	f := newFlags("truncate", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(2, "truncate takes NAME|KEY LENGTH"), func(b peer.Backend, pos []string) error {
		var n uint64
		if _, err := fmt.Sscan(pos[1], &n); err != nil || strings.HasPrefix(pos[1], "-") {
			return usagef("LENGTH %q is not a number of blocks", pos[1])
		}
		in, err := peer.Call(ctx, b, peer.OpTruncate, peer.TruncateRequest{Ref: pos[0], Length: n})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, in)
		}
		fmt.Fprintf(e.stdout, "truncated %s to length %d, fork %d\n", in.Key, in.Length, in.Fork)
		return nil
	})
}

func cmdSetKey(ctx context.Context, e *env, args []string) error {
	f := newFlags("setkey", e).withRepo().withJSON()
	ek := f.String("encryption-key", "", "the core's encryption key, 64 hex characters")
	bk := f.String("block-key", "", "the core's block key, 64 hex characters (as a key release gives it)")
	return f.withBackend(ctx, e, args, nargs(1, "setkey takes one NAME|KEY"), func(b peer.Backend, pos []string) error {
		if (*ek == "") == (*bk == "") {
			return usagef("give --encryption-key or --block-key")
		}
		in, err := peer.Call(ctx, b, peer.OpSetKey, peer.SetKeyRequest{Ref: pos[0], EncryptionKey: *ek, BlockKey: *bk})
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, in)
		}
		fmt.Fprintf(e.stdout, "core %s: key held, key check %s\n", in.Key, in.KeyCheck)
		return nil
	})
}

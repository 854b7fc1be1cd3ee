package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/datomspace/datomspace/datom"
	"github.com/datomspace/datomspace/peer"
)

func datomCommands() []command {
	return []command{
		{name: "transact", usage: "DB --file TX.json|- [--json]",
			summary: "append a JSON transaction of datoms; prints the tx", run: cmdTransact},
		{name: "put", usage: "DB E A V [--type TYPE] [--json]",
			summary: "add one datom; V is a string unless --type says otherwise", run: cmdPut,
			args: "  DB   the datom core: a name of yours (created by its first transaction) or a key\n  E    the entity id\n  A    the attribute, e.g. person/name\n  V    the value, read as --type says"},
		{name: "dump", usage: "DB|KEY [--as-of TX] [--json]",
			summary: "print every current entity of a datom core", run: cmdDump,
			args: "  DB|KEY   a datom core: a name of yours, or a key (a replica)"},
		{name: "pull", usage: "DB|KEY E [--as-of TX] [--resolve] [--json]",
			summary: "show an entity, current or as of a tx", run: cmdPull},
		{name: "query", usage: "DB|KEY... 'QUERY' | --all 'QUERY' [--json]",
			summary: "run a Datalog query in JSON", run: cmdQuery},
		{name: "history", usage: "DB|KEY E [A] [--json]",
			summary: "every datom about an entity (and attribute), in tx order", run: cmdHistory},
		{name: "reindex", usage: "",
			summary: "rebuild the datom indexes from the logs", run: cmdReindex},
	}
}

func cmdTransact(ctx context.Context, e *env, args []string) error {
	f := newFlags("transact", e).withRepo().withJSON()
	file := f.String("file", "", "the transaction: a JSON array of datoms or entity maps; - for standard input")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *file == "" {
		return usagef("transact takes DB and --file")
	}
	var tx []byte
	if *file == "-" {
		tx, err = io.ReadAll(e.stdin)
	} else {
		tx, err = os.ReadFile(*file)
	}
	if err != nil {
		return err
	}
	return transact(ctx, e, f, pos[0], tx)
}

func transact(ctx context.Context, e *env, f *flags, db string, tx []byte) error {
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	res, err := peer.Call(ctx, b, peer.OpTransact, peer.TransactRequest{Ref: db, Tx: string(tx)})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "tx %d: %s in core %s\n", res.Tx, count(len(res.Datoms), "datom"), res.Core)
	for tmp, id := range res.TempIDs {
		fmt.Fprintf(e.stdout, "  %s -> %s\n", tmp, id)
	}
	return nil
}

func cmdPut(ctx context.Context, e *env, args []string) error {
	f := newFlags("put", e).withRepo().withJSON()
	typ := f.String("type", "string", "how to read V: string, int64, float64, bool, time (RFC 3339), bytes (base64), ref, core-ref, blob (CID:SIZE) or json (a typed JSON value)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 4 {
		return usagef("put takes DB E A V")
	}
	v, err := datom.ParseValueText(*typ, pos[3])
	if err != nil {
		return err
	}
	tx, err := json.Marshal([]datom.Datom{datom.Add(pos[1], pos[2], v)})
	if err != nil {
		return err
	}
	return transact(ctx, e, f, pos[0], tx)
}

func cmdDump(ctx context.Context, e *env, args []string) error {
	f := newFlags("dump", e).withRepo().withJSON()
	asOfS := f.String("as-of", "", "the entities as they were right after this tx")
	return f.withBackend(ctx, e, args, nargs(1, "dump takes one DB|KEY"), func(b peer.Backend, pos []string) error {
		req := peer.DumpRequest{Ref: pos[0]}
		if *asOfS != "" {
			v, err := parseIndex("as-of", *asOfS)
			if err != nil {
				return err
			}
			req.AsOf = &v
		}
		w := bufio.NewWriter(e.stdout)
		defer w.Flush()
		n := 0
		_, err := peer.Stream(ctx, b, peer.OpDump, req, func(ent json.RawMessage) error {
			n++
			if *f.json {
				_, err := w.Write(append(ent, '\n'))
				return err
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(ent, &m); err != nil {
				return err
			}
			var id string
			json.Unmarshal(m["db/id"], &id)
			fmt.Fprintln(w, id)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, a := range sortedKeys(m) {
				if a == "db/id" {
					continue
				}
				fmt.Fprintf(tw, "  %s\t%s\n", a, valueText(m[a]))
			}
			return tw.Flush()
		})
		if err == nil && n == 0 && !*f.json {
			fmt.Fprintln(e.stderr, "no entities")
		}
		return err
	})
}

// valueText renders a JSON value for a table: strings as they are, refs as their entity, others
// as JSON.
func valueText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var many []json.RawMessage
	if json.Unmarshal(v, &many) == nil {
		texts := make([]string, len(many))
		for i, x := range many {
			texts[i] = valueText(x)
		}
		return strings.Join(texts, ", ")
	}
	var ref struct {
		Ref *string `json:"ref"`
	}
	if json.Unmarshal(v, &ref) == nil && ref.Ref != nil {
		return *ref.Ref
	}
	var obj map[string]any
	if json.Unmarshal(v, &obj) == nil {
		if s, ok := blobValueText(obj); ok {
			return s
		}
	}
	return string(v)
}

func printDatoms(w io.Writer, rows []peer.DatomRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "E\tA\tV\tTX\tOP")
	for _, d := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.E, d.A, valueText(d.V), d.Tx, d.Op)
	}
	tw.Flush()
}

func cmdPull(ctx context.Context, e *env, args []string) error {
	f := newFlags("pull", e).withRepo().withJSON()
	asOfS := f.String("as-of", "", "read the entity as it was right after this tx")
	resolve := f.Bool("resolve", false, "show large values (blobs) as the values themselves, fetching the ones the repo lacks")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("pull takes DB|KEY and E")
	}
	var asOf *uint64
	if *asOfS != "" {
		v, err := parseIndex("as-of", *asOfS)
		if err != nil {
			return err
		}
		asOf = &v
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	ent, err := peer.Call(ctx, b, peer.OpPull, peer.PullRequest{Ref: pos[0], E: pos[1], AsOf: asOf, Resolve: *resolve})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, ent)
	}
	if len(ent.Attrs) == 0 {
		fmt.Fprintf(e.stdout, "%s has no attributes in %s\n", pos[1], ent.Core)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", ent.ID)
	for _, a := range sortedKeys(ent.Attrs) {
		var vs []string
		for _, v := range ent.Attrs[a] {
			vs = append(vs, valueText(v))
		}
		fmt.Fprintf(tw, "  %s\t%s\n", a, strings.Join(vs, ", "))
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func cmdQuery(ctx context.Context, e *env, args []string) error {
	f := newFlags("query", e).withRepo().withJSON()
	all := f.Bool("all", false, "query every datom core in the repo")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || (!*all && len(pos) < 2) || (*all && len(pos) != 1) {
		return usagef("query takes DB|KEY... and the QUERY, or --all and the QUERY")
	}
	q := pos[len(pos)-1]
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	res, err := peer.Call(ctx, b, peer.OpQuery, peer.QueryRequest{Cores: pos[:len(pos)-1], Query: q})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(e.stderr, "note: %s\n", n)
	}
	if *f.json { // one line per row: the columns by name, and the row's core
		for _, r := range res.Rows {
			row := make(map[string]any, len(res.Columns)+1)
			for i, c := range res.Columns {
				if i < len(r.Values) {
					row[c] = r.Values[i]
				}
			}
			row["core"] = r.Core
			if err := printJSON(e.stdout, row); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tCORE\n", strings.Join(res.Columns, "\t"))
	for _, r := range res.Rows {
		var vs []string
		for _, v := range r.Values {
			vs = append(vs, valueText(v))
		}
		fmt.Fprintf(tw, "%s\t%.12s…\n", strings.Join(vs, "\t"), r.Core)
	}
	tw.Flush()
	fmt.Fprintln(e.stderr, count(len(res.Rows), "row"))
	return nil
}

func cmdHistory(ctx context.Context, e *env, args []string) error {
	f := newFlags("history", e).withRepo().withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 && len(pos) != 3 {
		return usagef("history takes DB|KEY, E and optionally A")
	}
	a := ""
	if len(pos) == 3 {
		a = pos[2]
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	rows, err := peer.Call(ctx, b, peer.OpHistory, peer.HistoryRequest{Ref: pos[0], E: pos[1], A: a})
	if err != nil {
		return err
	}
	if *f.json {
		for _, r := range rows {
			if err := printJSON(e.stdout, r); err != nil {
				return err
			}
		}
		return nil
	}
	printDatoms(e.stdout, rows)
	return nil
}

func cmdReindex(ctx context.Context, e *env, args []string) error {
	f := newFlags("reindex", e).withRepo().withJSON()
	return f.withBackend(ctx, e, args, nargs(0, "reindex takes no arguments"), func(b peer.Backend, pos []string) error {
		prog := newProgress(e.stderr, "reindex")
		res, err := peer.Stream(ctx, b, peer.OpReindex, peer.None{}, func(p peer.ReindexProgress) error {
			prog.update(fmt.Sprintf("%d of %d cores", p.Done, p.Total))
			return nil
		})
		prog.done()
		if err != nil {
			return err
		}
		if *f.json {
			return printJSON(e.stdout, res)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CORE\tKIND\tINDEXED\tSKIPPED")
		var datoms int
		for _, c := range res.Cores {
			kind := "empty"
			switch {
			case c.Datom:
				kind = "datom"
				datoms++
			case c.Raw:
				kind = "raw (not indexed)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d of %d\t%d\n", c.Key, kind, c.Indexed, c.Length, c.Skipped)
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "rebuilt the indexes of %s (%s in all) from their logs in %.2fs\n",
			count(datoms, "datom core"), count(len(res.Cores), "core"), res.Seconds)
		return nil
	})
}

// datomTable prints the blocks of a datom core as rows of e, a, v, tx and op, and any other
// block raw; `get` and `cat` show it.
type datomTable struct {
	w    *bufio.Writer
	json bool
	tw   *datom.TableWriter
}

func (d *datomTable) block(i uint64, b []byte, raw func(uint64, []byte) error) error {
	if d.json {
		rows, ok := peer.DatomsOf(i, b)
		if !ok {
			return raw(i, b)
		}
		for _, r := range rows {
			if err := printJSON(d.w, r); err != nil {
				return err
			}
		}
		return nil
	}
	if d.tw == nil {
		d.tw = datom.NewTableWriter(d.w)
	}
	ok, err := d.tw.WriteBlock(i, b)
	if err != nil || ok {
		return err
	}
	return raw(i, b)
}

// count says "1 thing" or "n things"; "block is" becomes "blocks are".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if noun, ok := strings.CutSuffix(thing, " is"); ok {
		return fmt.Sprintf("%d %ss are", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/datomspace/datomspace/dwn"
	"github.com/datomspace/datomspace/dwn/jsv"
	"github.com/datomspace/datomspace/peer"
	lpeer "github.com/libp2p/go-libp2p/core/peer"
)

func dwnCommands() []command {
	return []command{
		{name: "dwn", usage: strings.Join(dwnSubcommandNames(), "|") + " [args] [--peer MULTIADDR | --url URL] [--json]",
			summary: "talk to Decentralized Web Nodes (dwn-sdk-js 0.5.2 messages), synced between nodes through cores", run: cmdDWN,
			args: `  process TARGET MESSAGE.json|- [--data FILE|-] [--out FILE]
                                 send one DWN message for the tenant TARGET and print the reply
  write TARGET --key FILE|--node-key [--data FILE|- | --text TEXT] [--schema URI]
        [--protocol URI --protocol-path PATH [--parent CONTEXT-ID]] [--recipient DID]
        [--data-format TYPE] [--published]
                                 write a new record; prints its record id
  query TARGET [--schema URI] [--protocol URI] [--protocol-path PATH] [--record ID] [--context ID]
        [--parent ID] [--author DID] [--recipient DID] [--data-format TYPE] [--published|--unpublished]
        [--sort createdAscending|createdDescending|publishedAscending|publishedDescending]
        [--limit N] [--cursor JSON] [--key FILE|--node-key]
                                 the records that match (without a key: the published ones)
  read TARGET RECORD-ID [--key FILE|--node-key] [--out FILE]
                                 a record's data (to standard output, or --out)
  delete TARGET RECORD-ID --key FILE|--node-key [--prune]
  key [--new FILE | --file FILE]  this node's did:key (it signs with --node-key and can be a tenant);
                                 --new makes a key file, --file shows the did:key of one
  nodes DID [--bootstrap MULTIADDR]... [--timeout DUR]
                                 the nodes that hold tenant DID, found through the DHT
  tenant add DID [--key FILE [--expires DUR] | --authorization FILE|-] | rm DID | ls
                                 the tenants this node holds: it accepts messages for those only
                                 (a node that holds none accepts any), and syncs them with the
                                 other nodes the tenant authorized (serve --dwn-tenant DID adds one
                                 too). --key signs the tenant's authorization of this node with the
                                 tenant's key; --authorization takes one dwn authorize made
  authorize DID PEER-ID --key FILE [--expires DUR] [--out FILE]
                                 sign, as tenant DID, an authorization of the node PEER-ID to sync
                                 the tenant's messages with its other nodes; prints it (JSON)

  The DWN is --peer MULTIADDR (another node, over the libp2p protocol /datomspace/dwn/1.0.0),
  --url http://HOST:PORT (a dwn-server, or a node's serve --dwn), or by default this node's own
  (the daemon's, or the repo's when none runs). Messages are signed in this process, by the key
  file --key names or by this node's did:key (--node-key).`},
	}
}

var dwnSubcommands = map[string]func(ctx context.Context, e *env, args []string) error{
	"process": dwnProcess, "write": dwnWrite, "query": dwnQuery, "read": dwnRead, "delete": dwnDelete,
	"key": dwnKey, "nodes": dwnNodes, "tenant": dwnTenant, "authorize": dwnAuthorize,
}

func dwnSubcommandNames() []string {
	return []string{"process", "write", "query", "read", "delete", "key", "nodes", "tenant", "authorize"}
}

func cmdDWN(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || wantsHelp(args) {
		if len(args) == 0 {
			return usagef("dwn needs a subcommand")
		}
		return showHelp(e)
	}
	run, ok := dwnSubcommands[args[0]]
	if !ok {
		return usagef("unknown dwn subcommand %q (%s)", args[0], strings.Join(dwnSubcommandNames(), ", "))
	}
	return run(ctx, e, args[1:])
}

// dwnFlags are the flags of a call to a DWN.
type dwnFlags struct {
	*flags
	peer, url *string
	boot      stringList
}

func newDWNFlags(name string, e *env) *dwnFlags {
	f := &dwnFlags{flags: newFlags("dwn "+name, e).withRepo().withJSON()}
	f.peer = f.String("peer", "", "send it to the node at `MULTIADDR` (with /p2p/) over the libp2p protocol")
	f.url = f.String("url", "", "send it to the DWN at `URL`, http://HOST:PORT (dwn-server's JSON-RPC)")
	f.Var(&f.boot, "bootstrap", "DHT bootstrap peer for the node a --peer call starts when no daemon runs (repeatable)")
	return f
}

// signerFlags choose who signs a message.
type signerFlags struct {
	key     *string
	nodeKey *bool
}

func addSignerFlags(f *dwnFlags) *signerFlags {
	return &signerFlags{key: f.String("key", "", "sign with the key in `FILE` (made by: datomspace dwn key --new FILE)"),
		nodeKey: f.Bool("node-key", false, "sign with this node's did:key (datomspace dwn key prints it)")}
}

// signer returns the signer the flags name, or nil when they name none.
func (s *signerFlags) signer(f *dwnFlags) (*dwn.Signer, error) {
	switch {
	case *s.key != "" && *s.nodeKey:
		return nil, usagef("--key and --node-key do not go together")
	case *s.key != "":
		return peer.LoadDWNKey(*s.key)
	case *s.nodeKey:
		return peer.NodeDWNSigner(repoPath(f.flags))
	}
	return nil, nil
}

// maxDWNDaemonUpload is the most record data a call sends through the daemon's API, whose
// request bodies (base64) are bounded.
const maxDWNDaemonUpload = 160 << 20

// dwnInput is the record data a call sends: a file ("-" standard input), or bytes.
type dwnInput struct {
	file  string
	bytes []byte
	has   bool
}

// call sends one message with data, giving the record data of the reply to on (nil drops it).
func (f *dwnFlags) call(ctx context.Context, target string, msg []byte, data dwnInput, on func(peer.DWNEvent) error) (peer.DWNReply, error) {
	req := peer.DWNRequest{Target: target, Message: msg, Peer: *f.peer, URL: *f.url, Bootstrap: f.boot,
		Data: data.bytes, HasData: data.has}
	if *f.peer != "" && *f.url != "" {
		return peer.DWNReply{}, usagef("--peer and --url do not go together")
	}
	var b peer.Backend
	var err error
	if *f.url != "" {
		b = peer.NewLocal(repoPath(f.flags), f.e.log) // an HTTP call needs no repo
	} else if b, err = peer.OpenBackend(ctx, repoPath(f.flags), f.e.log); err != nil {
		return peer.DWNReply{}, err
	}
	defer b.Close()
	switch {
	case data.file == "-":
		if req.Data, err = io.ReadAll(f.e.stdin); err != nil {
			return peer.DWNReply{}, err
		}
		req.HasData = true
	case data.file != "" && b.Daemon():
		st, err := os.Stat(data.file)
		if err != nil {
			return peer.DWNReply{}, err
		}
		if st.Size() > maxDWNDaemonUpload {
			return peer.DWNReply{}, fmt.Errorf("the data file (%d MiB) is too large to pass through the daemon's API: "+
				"give --url http://HOST:PORT, the node's serve --dwn address, which streams it", st.Size()>>20)
		}
		if req.Data, err = os.ReadFile(data.file); err != nil {
			return peer.DWNReply{}, err
		}
		req.HasData = true
	case data.file != "":
		if req.File, err = filepath.Abs(data.file); err != nil {
			return peer.DWNReply{}, err
		}
	}
	return peer.Stream(ctx, b, peer.OpDWN, req, on)
}

// dataSink keeps the record data of a reply: in a file (FILE.partial, renamed when complete),
// or in memory up to a limit.
type dataSink struct {
	out  string
	f    *os.File
	buf  bytes.Buffer
	over bool
}

const maxDataInMemory = 64 << 20

func (s *dataSink) write(ev peer.DWNEvent) error {
	if s.out != "" {
		if s.f == nil {
			var err error
			if s.f, err = os.Create(s.out + ".partial"); err != nil {
				return err
			}
		}
		_, err := s.f.Write(ev.Data)
		return err
	}
	if s.buf.Len()+len(ev.Data) > maxDataInMemory {
		s.over = true
		return nil
	}
	s.buf.Write(ev.Data)
	return nil
}

func (s *dataSink) commit() error {
	if s.f == nil {
		return nil
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	return os.Rename(s.f.Name(), s.out)
}

func (s *dataSink) abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// statusError is a reply whose status is an error: the command printed it and exits 1.
func statusError(rep peer.DWNReply) error {
	code, detail := rep.Status()
	if code < 400 {
		return nil
	}
	return fmt.Errorf("the DWN answered %d: %s", code, detail)
}

// readMessage reads a message file ("-": standard input).
func readMessage(e *env, path string) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(e.stdin, peer.DefaultMaxBody+1))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := jsv.Parse(b); err != nil {
		return nil, fmt.Errorf("%s is not a JSON message: %v", path, err)
	}
	return bytes.TrimSpace(b), nil
}

func dwnProcess(ctx context.Context, e *env, args []string) error {
	f := newDWNFlags("process", e)
	data := f.String("data", "", "send the record data of a RecordsWrite from `FILE` (- reads standard input)")
	out := f.String("out", "", "write the record data of the reply to `FILE`")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("dwn process takes a target DID and a message file")
	}
	if pos[1] == "-" && *data == "-" {
		return usagef("the message and --data cannot both come from standard input")
	}
	msg, err := readMessage(e, pos[1])
	if err != nil {
		return err
	}
	sink := &dataSink{out: *out}
	rep, err := f.call(ctx, pos[0], msg, dwnInput{file: *data}, sink.write)
	if err != nil {
		sink.abort()
		return err
	}
	if err := sink.commit(); err != nil {
		return err
	}
	if err := printReply(e, rep, sink, *f.json); err != nil {
		return err
	}
	return statusError(rep)
}

// printReply prints a reply and the data it carried.
func printReply(e *env, rep peer.DWNReply, sink *dataSink, asJSON bool) error {
	if asJSON {
		out := map[string]any{"reply": rep.Reply, "via": rep.Via}
		if rep.Data != nil {
			out["dataBytes"], out["dataSha256"] = rep.Data.Bytes, rep.Data.SHA256
			if sink.out == "" && !sink.over {
				out["data"] = base64.RawURLEncoding.EncodeToString(sink.buf.Bytes())
			}
		}
		return printJSON(e.stdout, out)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rep.Reply, "", "  "); err != nil {
		pretty.Write(rep.Reply)
	}
	fmt.Fprintln(e.stdout, pretty.String())
	if rep.Data == nil {
		return nil
	}
	switch {
	case sink.out != "":
		fmt.Fprintf(e.stdout, "data: %d bytes (sha256 %s) written to %s\n", rep.Data.Bytes, rep.Data.SHA256, sink.out)
	case !sink.over && sink.buf.Len() <= 64<<10 && utf8.Valid(sink.buf.Bytes()):
		fmt.Fprintf(e.stdout, "data: %d bytes\n%s", rep.Data.Bytes, sink.buf.String())
		if !bytes.HasSuffix(sink.buf.Bytes(), []byte("\n")) {
			fmt.Fprintln(e.stdout)
		}
	default:
		fmt.Fprintf(e.stdout, "data: %d bytes (sha256 %s); pass --out FILE to save them\n", rep.Data.Bytes, rep.Data.SHA256)
	}
	return nil
}

func dwnWrite(ctx context.Context, e *env, args []string) error {
	f := newDWNFlags("write", e)
	sf := addSignerFlags(f)
	data := f.String("data", "", "the record's data, from `FILE` (- reads standard input)")
	text := f.String("text", "", "the record's data, this `TEXT`")
	schema := f.String("schema", "", "the record's schema `URI`")
	protocol := f.String("protocol", "", "the protocol `URI` the record belongs to (configured with a ProtocolsConfigure)")
	protocolPath := f.String("protocol-path", "", "the record's `PATH` in the protocol, e.g. thread/message")
	parent := f.String("parent", "", "the parent record's `CONTEXT-ID`, for a child record of a protocol")
	recipient := f.String("recipient", "", "the record's recipient `DID`")
	format := f.String("data-format", "", "the data's media `TYPE` (default application/json, or text/plain with --text)")
	published := f.Bool("published", false, "publish the record: anyone may read it")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dwn write takes a target DID")
	}
	if *data != "" && *text != "" {
		return usagef("give --data or --text, not both")
	}
	s, err := sf.signer(f)
	if err != nil {
		return err
	}
	if s == nil {
		return usagef("a write must be signed: give --key FILE or --node-key")
	}
	var content []byte
	dataFile := *data
	switch {
	case *text != "":
		content = []byte(*text)
		if *format == "" {
			*format = "text/plain"
		}
	case *data == "-":
		if content, err = io.ReadAll(e.stdin); err != nil {
			return err
		}
	}
	var cid string
	var size int64
	if *data != "" && *data != "-" {
		fd, err := os.Open(*data)
		if err != nil {
			return err
		}
		cid, size, err = dwn.DataCID(fd)
		fd.Close()
		if err != nil {
			return err
		}
	} else {
		if cid, size, err = dwn.DataCID(bytes.NewReader(content)); err != nil {
			return err
		}
	}
	msg, err := peer.BuildRecordsWrite(peer.DWNWrite{DataCID: cid, DataSize: size, DataFormat: *format, Schema: *schema,
		Protocol: *protocol, ProtocolPath: *protocolPath, ParentContextID: *parent, Recipient: *recipient, Published: *published},
		s, time.Now())
	if err != nil {
		return err
	}
	in := dwnInput{bytes: content, has: true}
	if dataFile != "" && dataFile != "-" {
		in = dwnInput{file: dataFile}
	}
	rep, err := f.call(ctx, pos[0], []byte(jsv.Stringify(msg)), in, nil)
	if err != nil {
		return err
	}
	recordID, _ := msg.Get("recordId")
	contextID, _ := msg.Get("contextId")
	code, detail := rep.Status()
	if *f.json {
		out := map[string]any{"recordId": recordID, "reply": rep.Reply}
		if contextID != nil {
			out["contextId"] = contextID
		}
		if err := printJSON(e.stdout, out); err != nil {
			return err
		}
	} else if code < 400 {
		fmt.Fprintln(e.stdout, recordID)
		if contextID != nil && contextID != recordID {
			fmt.Fprintf(e.stderr, "context %s\n", contextID)
		}
		fmt.Fprintf(e.stderr, "%d %s\n", code, detail)
	}
	return statusError(rep)
}

func dwnQuery(ctx context.Context, e *env, args []string) error {
	f := newDWNFlags("query", e)
	sf := addSignerFlags(f)
	var q peer.DWNFilter
	f.StringVar(&q.Schema, "schema", "", "records of schema `URI`")
	f.StringVar(&q.Protocol, "protocol", "", "records of protocol `URI`")
	f.StringVar(&q.ProtocolPath, "protocol-path", "", "records at protocol `PATH`")
	f.StringVar(&q.RecordID, "record", "", "the record with this `ID`")
	f.StringVar(&q.ContextID, "context", "", "records of context `ID`")
	f.StringVar(&q.ParentID, "parent", "", "children of the record with this `ID`")
	f.StringVar(&q.Author, "author", "", "records written by `DID`")
	f.StringVar(&q.Recipient, "recipient", "", "records for recipient `DID`")
	f.StringVar(&q.DataFormat, "data-format", "", "records whose data is of media `TYPE`")
	pub := f.Bool("published", false, "published records only")
	unpub := f.Bool("unpublished", false, "unpublished records only")
	var o peer.DWNQueryOptions
	f.StringVar(&o.DateSort, "sort", "", "order: createdAscending (default), createdDescending, publishedAscending or publishedDescending")
	f.IntVar(&o.Limit, "limit", 0, "at most `N` records (the reply's cursor continues with --cursor)")
	f.StringVar(&o.Cursor, "cursor", "", "continue after this `JSON` cursor of an earlier reply")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dwn query takes a target DID")
	}
	switch {
	case *pub && *unpub:
		return usagef("--published and --unpublished do not go together")
	case *pub:
		q.Published = pub
	case *unpub:
		no := false
		q.Published = &no
	}
	if o.Limit < 0 {
		return usagef("--limit must be positive")
	}
	s, err := sf.signer(f)
	if err != nil {
		return err
	}
	msg, err := peer.BuildRecordsQuery(q, o, s, time.Now())
	if errors.Is(err, peer.ErrBadRequest) {
		return usagef("%s", strings.TrimPrefix(err.Error(), peer.ErrBadRequest.Error()+": "))
	}
	if err != nil {
		return err
	}
	rep, err := f.call(ctx, pos[0], []byte(jsv.Stringify(msg)), dwnInput{}, nil)
	if err != nil {
		return err
	}
	if *f.json {
		if err := printJSON(e.stdout, rep.Reply); err != nil {
			return err
		}
		return statusError(rep)
	}
	if err := statusError(rep); err != nil {
		return err
	}
	printRecords(e.stdout, rep.Reply)
	return nil
}

// printRecords prints the entries of a RecordsQuery reply, one line each, and its cursor.
func printRecords(w io.Writer, reply json.RawMessage) {
	var r struct {
		Entries []struct {
			RecordID    string `json:"recordId"`
			ContextID   string `json:"contextId"`
			EncodedData string `json:"encodedData"`
			Descriptor  struct {
				Schema       string  `json:"schema"`
				ProtocolPath string  `json:"protocolPath"`
				DataFormat   string  `json:"dataFormat"`
				DataSize     float64 `json:"dataSize"`
				DateCreated  string  `json:"dateCreated"`
				Published    bool    `json:"published"`
			} `json:"descriptor"`
		} `json:"entries"`
		Cursor json.RawMessage `json:"cursor"`
	}
	json.Unmarshal(reply, &r)
	if len(r.Entries) == 0 {
		fmt.Fprintln(w, "no records")
	}
	for _, en := range r.Entries {
		d := en.Descriptor
		what := d.Schema
		if d.ProtocolPath != "" {
			what = d.ProtocolPath
		}
		if what == "" {
			what = "-"
		}
		pub := ""
		if d.Published {
			pub = "  published"
		}
		line := fmt.Sprintf("%s  %s  %s  %s  %d bytes%s", en.RecordID, d.DateCreated, what, d.DataFormat, int64(d.DataSize), pub)
		if b, err := base64.RawURLEncoding.DecodeString(en.EncodedData); err == nil && len(b) > 0 && utf8.Valid(b) && !bytes.ContainsAny(b, "\n\r\t") {
			if len(b) > 60 {
				b = append(b[:57:57], "..."...)
			}
			line += "  " + string(b)
		}
		fmt.Fprintln(w, line)
	}
	if len(r.Cursor) > 0 && string(r.Cursor) != "null" {
		fmt.Fprintf(w, "more: --cursor '%s'\n", r.Cursor)
	}
}

func dwnRead(ctx context.Context, e *env, args []string) error {
	f := newDWNFlags("read", e)
	sf := addSignerFlags(f)
	out := f.String("out", "", "write the record's data to `FILE` (default standard output)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("dwn read takes a target DID and a record id")
	}
	s, err := sf.signer(f)
	if err != nil {
		return err
	}
	msg, err := peer.BuildRecordsRead(pos[1], s, time.Now())
	if err != nil {
		return err
	}
	sink := &dataSink{out: *out}
	write := sink.write
	if *out == "" && !*f.json {
		write = func(ev peer.DWNEvent) error { _, err := e.stdout.Write(ev.Data); return err }
	}
	rep, err := f.call(ctx, pos[0], []byte(jsv.Stringify(msg)), dwnInput{}, write)
	if err != nil {
		sink.abort()
		return err
	}
	if err := sink.commit(); err != nil {
		return err
	}
	if *f.json {
		if err := printReply(e, rep, sink, true); err != nil {
			return err
		}
	} else if *out != "" && rep.Data != nil {
		fmt.Fprintf(e.stderr, "wrote %d bytes (sha256 %s) to %s\n", rep.Data.Bytes, rep.Data.SHA256, *out)
	}
	return statusError(rep)
}

func dwnDelete(ctx context.Context, e *env, args []string) error {
	f := newDWNFlags("delete", e)
	sf := addSignerFlags(f)
	prune := f.Bool("prune", false, "delete the record's descendants too")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("dwn delete takes a target DID and a record id")
	}
	s, err := sf.signer(f)
	if err != nil {
		return err
	}
	if s == nil {
		return usagef("a delete must be signed: give --key FILE or --node-key")
	}
	msg, err := peer.BuildRecordsDelete(pos[1], *prune, s, time.Now())
	if err != nil {
		return err
	}
	rep, err := f.call(ctx, pos[0], []byte(jsv.Stringify(msg)), dwnInput{}, nil)
	if err != nil {
		return err
	}
	code, detail := rep.Status()
	if *f.json {
		if err := printJSON(e.stdout, rep.Reply); err != nil {
			return err
		}
	} else if code < 400 {
		fmt.Fprintf(e.stdout, "%d %s\n", code, detail)
	}
	return statusError(rep)
}

func dwnKey(ctx context.Context, e *env, args []string) error {
	f := newFlags("dwn key", e).withRepo().withJSON()
	newFile := f.String("new", "", "make a new Ed25519 key in `FILE` (mode 0600; never overwritten) and print its did:key")
	file := f.String("file", "", "print the did:key of the key in `FILE`")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("dwn key takes no arguments")
	}
	var s *dwn.Signer
	switch {
	case *newFile != "" && *file != "":
		return usagef("--new and --file do not go together")
	case *newFile != "":
		s, err = peer.NewDWNKeyFile(*newFile)
	case *file != "":
		s, err = peer.LoadDWNKey(*file)
	default:
		s, err = peer.NodeDWNSigner(repoPath(f))
		if err != nil {
			if _, serr := os.Stat(repoPath(f)); serr != nil {
				return fmt.Errorf("%w at %s", peer.ErrNoRepo, repoPath(f))
			}
		}
	}
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]string{"did": s.DID, "kid": s.KeyID})
	}
	fmt.Fprintln(e.stdout, s.DID)
	return nil
}

func dwnNodes(ctx context.Context, e *env, args []string) error {
	f := newFlags("dwn nodes", e).withRepo().withJSON()
	var boot, peers stringList
	f.Var(&boot, "bootstrap", "DHT bootstrap peer for the node a lookup starts when no daemon runs (repeatable)")
	f.Var(&peers, "peer", "also ask the node at `MULTIADDR` (repeatable)")
	timeout := f.Duration("timeout", 20*time.Second, "how long to look in the DHT")
	return f.withBackend(ctx, e, args, nargs(1, "dwn nodes takes a tenant DID"), func(b peer.Backend, pos []string) error {
		rep, err := peer.Call(ctx, b, peer.OpDWNNodes, peer.DWNNodesRequest{DID: pos[0], Bootstrap: boot, Peers: peers, Timeout: *timeout})
		if err != nil {
			return err
		}
		for _, n := range rep.Nodes {
			if *f.json {
				printJSON(e.stdout, n)
				continue
			}
			what := "core " + n.Core + "  length " + fmt.Sprint(n.Length)
			if n.Error != "" {
				what = "error: " + n.Error
			}
			if n.Self {
				what += "  (this node)"
			}
			fmt.Fprintf(e.stdout, "%s  %s\n", n.Peer, what)
		}
		return nil
	})
}

func dwnTenant(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("dwn tenant needs add DID, rm DID or ls")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("dwn tenant "+sub, e).withRepo().withJSON()
	var keyFile, authFile *string
	var expires *time.Duration
	if sub == "add" {
		keyFile = f.String("key", "", "sign the tenant's authorization of this node with the tenant's key `FILE` (a dwn key file)")
		expires = f.Duration("expires", 0, "with --key: the authorization expires after `DUR` (default: never)")
		authFile = f.String("authorization", "", "the tenant's authorization of this node, from `FILE` (- for standard input), as `dwn authorize` prints it")
	}
	switch sub {
	case "ls":
		return f.withBackend(ctx, e, rest, nargs(0, "dwn tenant ls takes no arguments"), func(b peer.Backend, _ []string) error {
			in, err := peer.Call(ctx, b, peer.OpDWNInfo, peer.None{})
			if err != nil {
				return err
			}
			return printTenants(e, in, *f.json)
		})
	case "add", "rm":
		return f.withBackend(ctx, e, rest, nargs(1, "dwn tenant "+sub+" takes a DID"), func(b peer.Backend, pos []string) error {
			req := peer.DWNTenantRequest{DID: pos[0], Remove: sub == "rm"}
			if sub == "add" {
				var err error
				if req.Authorization, err = tenantAuthorization(ctx, e, b, pos[0], *keyFile, *authFile, *expires); err != nil {
					return err
				}
			}
			in, err := peer.Call(ctx, b, peer.OpDWNTenant, req)
			if err != nil {
				return err
			}
			if err := printTenants(e, in, *f.json); err != nil {
				return err
			}
			if !*f.json && in.Open {
				fmt.Fprintln(e.stderr, "this node holds no tenant now: it accepts messages for every tenant")
			}
			if !*f.json && sub == "add" {
				authorized := false
				for _, t := range in.Tenants {
					authorized = authorized || t.DID == pos[0] && t.Authorized
				}
				switch {
				case !authorized:
					fmt.Fprintf(e.stderr, "this node holds the tenant but syncs it with no other node until the tenant authorizes it: `datomspace dwn tenant add %s --key FILE` with the tenant's key, or --authorization FILE from `datomspace dwn authorize`\n", pos[0])
				case !b.Daemon():
					fmt.Fprintln(e.stderr, "saved in the repo; `datomspace serve` holds and syncs it")
				}
			}
			return nil
		})
	}
	return usagef("unknown dwn tenant subcommand %q (add, rm, ls)", sub)
}

// tenantAuthorization is the authorization `dwn tenant add` gives the node: one signed here with
// the tenant's key file, or one read from a file; nil for neither.
func tenantAuthorization(ctx context.Context, e *env, b peer.Backend, did, keyFile, authFile string, ttl time.Duration) ([]byte, error) {
	switch {
	case keyFile != "" && authFile != "":
		return nil, usagef("--key and --authorization do not go together")
	case ttl != 0 && keyFile == "":
		return nil, usagef("--expires goes with --key")
	case ttl < 0:
		return nil, usagef("--expires must be positive")
	case authFile != "":
		raw, err := readLimited(e, authFile, dwn.MaxNodeAuthorization)
		if err != nil {
			return nil, err
		}
		return bytes.TrimSpace(raw), nil
	case keyFile != "":
		s, err := peer.LoadDWNKey(keyFile)
		if err != nil {
			return nil, err
		}
		if s.DID != did {
			return nil, usagef("the key in %s is %s's, not %s's", keyFile, s.DID, did)
		}
		id, err := peer.Call(ctx, b, peer.OpID, peer.None{})
		if err != nil {
			return nil, err
		}
		node, err := lpeer.Decode(id.PeerID)
		if err != nil {
			return nil, err
		}
		return peer.AuthorizeDWNNode(s, node, ttl)
	}
	return nil, nil
}

// readLimited reads the file path (- for standard input), refusing one larger than limit bytes.
func readLimited(e *env, path string, limit int) ([]byte, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func dwnAuthorize(ctx context.Context, e *env, args []string) error {
	f := newFlags("dwn authorize", e).withJSON()
	keyFile := f.String("key", "", "the tenant's key `FILE` (a dwn key file), which signs")
	ttl := f.Duration("expires", 0, "the authorization expires after `DUR` (default: never)")
	out := f.String("out", "", "write the authorization to `FILE` (mode 0600) instead of standard output")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("dwn authorize takes a tenant DID and a node's PEER-ID")
	}
	if *keyFile == "" {
		return usagef("dwn authorize needs --key FILE, the tenant's key")
	}
	if *ttl < 0 {
		return usagef("--expires must be positive")
	}
	node, err := lpeer.Decode(pos[1])
	if err != nil {
		return usagef("%q is not a peer ID (`datomspace id` prints a node's)", pos[1])
	}
	s, err := peer.LoadDWNKey(*keyFile)
	if err != nil {
		return err
	}
	if s.DID != pos[0] {
		return usagef("the key in %s is %s's, not %s's", *keyFile, s.DID, pos[0])
	}
	raw, err := peer.AuthorizeDWNNode(s, node, *ttl)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, append(raw, '\n'), 0o600); err != nil {
			return err
		}
		if !*f.json {
			fmt.Fprintf(e.stderr, "wrote %s; on the node: datomspace dwn tenant add %s --authorization %s\n", *out, pos[0], *out)
		}
		return nil
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", raw)
	return err
}

// printTenants prints the tenants of a node's DWN.
func printTenants(e *env, in peer.DWNInfo, asJSON bool) error {
	if asJSON {
		for _, t := range in.Tenants {
			if err := printJSON(e.stdout, t); err != nil {
				return err
			}
		}
		return nil
	}
	if len(in.Tenants) == 0 {
		fmt.Fprintln(e.stdout, "no tenants (this node accepts messages for any tenant; `datomspace dwn tenant add DID` holds one)")
	}
	for _, t := range in.Tenants {
		state := "held"
		if !t.Held {
			state = "not held"
		}
		line := fmt.Sprintf("%s  %s", t.DID, state)
		if t.Core != "" {
			line += fmt.Sprintf("  core %s  length %d", t.Core, t.Length)
		}
		switch {
		case t.Held && !t.Authorized:
			line += "  not authorized (syncs with no other node)"
		case t.Authorized && t.AuthorizedUntil != "":
			line += "  authorized until " + t.AuthorizedUntil
		case t.Authorized:
			line += "  authorized"
		}
		if t.Synced {
			line += fmt.Sprintf("  synced with %s", count(len(t.Nodes), "node"))
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}

// printDWNInfo prints what `serve` says about its DWN.
func printDWNInfo(w io.Writer, in peer.DWNInfo) {
	fmt.Fprintf(w, "dwn      %s  (this node's did:key)\n", in.DID)
	if in.HTTP != "" {
		fmt.Fprintf(w, "dwn      %s  (dwn-server JSON-RPC and WebSocket)\n", in.HTTP)
	}
	fmt.Fprintf(w, "dwn      %s  (libp2p, at the addresses above)\n", in.Protocol)
	if in.Open {
		fmt.Fprintln(w, "dwn      open: messages for any tenant are accepted (--dwn-tenant DID holds one)")
	}
	for _, t := range in.Tenants {
		if t.Held && t.Authorized {
			fmt.Fprintf(w, "dwn      tenant %s  length %d\n", t.DID, t.Length)
		} else if t.Held {
			fmt.Fprintf(w, "dwn      tenant %s  length %d  (not authorized by the tenant: synced with no other node; `datomspace dwn tenant add %s --key FILE` authorizes this node)\n", t.DID, t.Length, t.DID)
		}
	}
}

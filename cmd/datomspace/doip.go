package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/peer"
)

func doipCommands() []command {
	return []command{
		{name: "doip", usage: strings.Join(doipSubcommandNames(), "|") + " [args] [--peer URL] [--json]",
			summary: "talk to DOIP services: digital objects on datoms, over TLS, DOIP 2.1 or libp2p", run: cmdDOIP,
			args: `  hello                          the service's description (its address, key, peer ID, prefix)
  ops [ID]                       the operations of the service, or of object ID
  create [--type T] [--attributes JSON] [--id ID] [--file [ELEMENT=]PATH]...
                                 create an object; each --file attaches an element
  retrieve ID [--element E [--out FILE]] [--full [--out DIR]]
                                 an object; --element streams one element's bytes
  update ID [--type T] [--attributes JSON] [--file [ELEMENT=]PATH]... [--remove E]...
  delete ID
  search QUERY [--page N] [--page-size N] [--sort "a,b DESC"] [--ids]
                                 Cordra's query language: words, field:value, +/-, AND/OR, "phrases", prefix*
  join [REPO-ID REPO-URL]        make the service (a registry) forward its searches to REPO-URL;
                                 default: this node's own service
  quit [REPO-ID]                 undo a join
  token [--ttl DUR]              print an owner token of this node's service
  resolve ID [--bootstrap MULTIADDR]...
                                 find the peers serving ID's prefix through the DHT, and their service info
  user add NAME | rm NAME | ls   the users who may authenticate with --user and --password here
                                 (add reads the password from $DATOMSPACE_DOIP_PASSWORD or standard input)

  The service is --peer URL: doip://HOST:PORT (DOIP 2.0 over TLS), doip21://HOST:PORT (DOIP 2.1),
  or a libp2p multiaddr /ip4/.../p2p/PEER-ID (the tunnel; through the daemon when one runs).
  Without --peer it is this node's own service. Calls are made as this node (its key names the
  client), which owns its own service; --token, --user/--password or --anonymous say otherwise.`},
	}
}

// doipSubcommands lists the subcommands of `doip`.
var doipSubcommands = map[string]func(ctx context.Context, e *env, args []string) error{
	"hello": doipHello, "ops": doipOps, "create": doipCreate, "retrieve": doipRetrieve, "update": doipUpdate,
	"delete": doipDelete, "search": doipSearch, "join": doipJoin, "quit": doipQuit, "token": doipToken, "resolve": doipResolve,
	"user": doipUser,
}

func doipSubcommandNames() []string {
	return []string{"hello", "ops", "create", "retrieve", "update", "delete", "search", "join", "quit", "token", "resolve", "user"}
}

func cmdDOIP(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || wantsHelp(args) {
		if len(args) == 0 {
			return usagef("doip needs a subcommand")
		}
		return showHelp(e)
	}
	run, ok := doipSubcommands[args[0]]
	if !ok {
		return usagef("unknown doip subcommand %q (%s)", args[0], strings.Join(doipSubcommandNames(), ", "))
	}
	return run(ctx, e, args[1:])
}

// doipFlags are the flags every call to a service takes.
type doipFlags struct {
	*flags
	peer, pin, service    *string
	token, user, password *string
	anonymous             *bool
	boot                  stringList
}

func newDOIPFlags(name string, e *env) *doipFlags {
	f := &doipFlags{flags: newFlags("doip "+name, e).withRepo().withJSON()}
	f.peer = f.String("peer", "", "the service `URL`: doip://HOST:PORT (TLS), doip21://HOST:PORT (DOIP 2.1) or a libp2p multiaddr with /p2p/ (default: this node's own)")
	f.pin = f.String("pin", "", "the `PEER-ID` (or did:key) whose key the service must hold")
	f.service = f.String("service", "", "the service `ID` to address (default: the one Hello names; PREFIX/service addresses a replica repository a node serves)")
	f.token = f.String("token", "", "authenticate with this `TOKEN` (the service's owner prints one with: datomspace doip token)")
	f.user = f.String("user", "", "authenticate as this `USER`, with --password or $DATOMSPACE_DOIP_PASSWORD")
	f.password = f.String("password", "", "the `PASSWORD` of --user")
	f.anonymous = f.Bool("anonymous", false, "send no credentials and no client certificate")
	f.Var(&f.boot, "bootstrap", "DHT bootstrap peer for the node a tunnel call starts when no daemon runs (repeatable)")
	return f
}

// request fills in the target and credentials of a request.
func (f *doipFlags) request(op string) (peer.DOIPRequest, error) {
	req := peer.DOIPRequest{Op: op, Peer: *f.peer, Pin: *f.pin, Service: *f.service, Token: *f.token,
		Username: *f.user, Password: *f.password, Anonymous: *f.anonymous, Bootstrap: f.boot}
	if req.Username != "" && req.Password == "" {
		req.Password = os.Getenv("DATOMSPACE_DOIP_PASSWORD")
		if req.Password == "" {
			return req, usagef("--user needs --password or $DATOMSPACE_DOIP_PASSWORD")
		}
	}
	if req.Password != "" && req.Username == "" {
		return req, usagef("--password needs --user")
	}
	if req.Anonymous && (req.Token != "" || req.Password != "") {
		return req, usagef("--anonymous sends no credentials: drop --token or --user")
	}
	return req, nil
}

// backend runs TLS and DOIP 2.1 calls in this process (they need only the node's key), and the
// others, and a join or quit that names the daemon's own service, through the daemon when one
// runs, else on the repo.
func (f *doipFlags) backend(ctx context.Context, req peer.DOIPRequest) (peer.Backend, error) {
	ownService := (req.Op == peer.DOIPJoin || req.Op == peer.DOIPQuit) && (req.ID == "" || req.URL == "" && req.Op == peer.DOIPJoin)
	if p := *f.peer; p != "" && !doip.IsMultiaddr(p) && !ownService {
		return peer.NewLocal(repoPath(f.flags), f.e.log), nil
	}
	return peer.OpenBackend(ctx, repoPath(f.flags), f.e.log)
}

// maxDaemonUpload is the most element bytes a call sends through the daemon's API, whose
// request bodies (base64) are bounded.
const maxDaemonUpload = 160 << 20

// call runs one DOIP operation, giving streamed element bytes to on.
func (f *doipFlags) call(ctx context.Context, req peer.DOIPRequest, files map[string]string, on func(peer.DOIPEvent) error) (peer.DOIPReply, error) {
	b, err := f.backend(ctx, req)
	if err != nil {
		return peer.DOIPReply{}, err
	}
	defer b.Close()
	if len(files) > 0 {
		if b.Daemon() {
			// The daemon reads no files for its callers: send the bytes.
			var total int64
			for _, path := range files {
				if st, err := os.Stat(path); err == nil {
					total += st.Size()
				}
			}
			if total > maxDaemonUpload {
				return peer.DOIPReply{}, fmt.Errorf("the element files (%d MiB) are too large to pass through the daemon's API: "+
					"give --peer doip://HOST:PORT, the node's TLS listener, which streams them", total>>20)
			}
			req.Data = map[string][]byte{}
			for id, path := range files {
				data, err := os.ReadFile(path)
				if err != nil {
					return peer.DOIPReply{}, err
				}
				req.Data[id] = data
			}
		} else {
			req.Files = files
		}
	}
	return peer.Stream(ctx, b, peer.OpDOIP, req, on)
}

func doipHello(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("hello", e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("doip hello takes no arguments")
	}
	req, err := f.request(peer.DOIPHello)
	if err != nil {
		return err
	}
	rep, err := f.call(ctx, req, nil, nil)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, rep.Object)
	}
	si, err := doip.ParseServiceInfo(rep.Object)
	if err != nil {
		return err
	}
	printServiceInfo(e.stdout, si, "")
	return nil
}

// printDOIPInfo prints what `serve` says about its DOIP service.
func printDOIPInfo(w io.Writer, in peer.DOIPInfo) {
	fmt.Fprintf(w, "doip     prefix %s, repository core %s\n", in.Prefix, in.Repository)
	if in.TLS != "" {
		fmt.Fprintf(w, "doip     %s  (DOIP 2.0 over TLS)\n", in.TLS)
	}
	if in.TCP21 != "" {
		fmt.Fprintf(w, "doip     %s  (DOIP 2.1)\n", in.TCP21)
	}
	fmt.Fprintf(w, "doip     %s  (libp2p tunnel, at the addresses above)\n", in.Tunnel)
	for _, r := range in.Replicas {
		fmt.Fprintf(w, "doip     replica of %s, core %s (read-only)\n", r.Prefix, r.Repository)
	}
}

// printServiceInfo prints what a Hello says, each line starting with indent.
func printServiceInfo(w io.Writer, si *doip.ServiceInfo, indent string) {
	fmt.Fprintf(w, "%sservice    %s  (%s, DOIP %s)\n", indent, si.ID, si.Type, si.ProtocolVersion)
	if si.Prefix != "" {
		fmt.Fprintf(w, "%sprefix     %s\n", indent, si.Prefix)
	}
	if si.IPAddress != "" {
		fmt.Fprintf(w, "%saddress    doip://%s:%d\n", indent, si.IPAddress, si.Port)
	}
	if si.PublicKey != nil {
		fmt.Fprintf(w, "%skey        %s  (pin it with --pin)\n", indent, doip.PeerID(si.PublicKey))
	}
	if si.PeerID != "" {
		fmt.Fprintf(w, "%speer       %s\n", indent, si.PeerID)
	}
	for _, m := range si.Multiaddrs {
		fmt.Fprintf(w, "%smultiaddr  %s\n", indent, m)
	}
	for _, l := range si.Listeners {
		fmt.Fprintf(w, "%slistener   %s  (DOIP %s)\n", indent, l.URL, l.ProtocolVersion)
	}
}

func doipOps(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("ops", e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("doip ops takes at most one object ID")
	}
	req, err := f.request(peer.DOIPOps)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		req.ID = pos[0]
	}
	rep, err := f.call(ctx, req, nil, nil)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, rep.Operations)
	}
	for _, op := range rep.Operations {
		fmt.Fprintln(e.stdout, op)
	}
	return nil
}

// objectFlags are the flags that describe an object to create or update.
type objectFlags struct {
	typ, attrs *string
	files      stringList
}

func addObjectFlags(f *doipFlags) *objectFlags {
	o := &objectFlags{}
	o.typ = f.String("type", "", "the object's `TYPE` (create: default Document)")
	o.attrs = f.String("attributes", "", "the object's attributes, a `JSON` object (@FILE reads it from a file, - from standard input)")
	f.Var(&o.files, "file", "attach the file at `[ELEMENT=]PATH` as an element (its id defaults to the file's name; repeatable)")
	return o
}

// object builds the object and the element files the flags describe.
func (o *objectFlags) object(e *env, create bool) (*doip.DigitalObject, map[string]string, error) {
	do := &doip.DigitalObject{Type: *o.typ}
	if create && do.Type == "" {
		do.Type = "Document"
	}
	if a := *o.attrs; a != "" {
		var b []byte
		var err error
		switch {
		case a == "-":
			b, err = io.ReadAll(e.stdin)
		case strings.HasPrefix(a, "@"):
			b, err = os.ReadFile(a[1:])
		default:
			b = []byte(a)
		}
		if err != nil {
			return nil, nil, err
		}
		b = bytes.TrimSpace(b)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, nil, usagef("--attributes must be a JSON object: %s", peer.JSONProblem(err))
		}
		do.Attributes = b
	}
	files := map[string]string{}
	for _, spec := range o.files {
		id, path, ok := strings.Cut(spec, "=")
		if !ok {
			id, path = filepath.Base(spec), spec
		}
		if id == "" || path == "" {
			return nil, nil, usagef("--file %q: give PATH or ELEMENT=PATH", spec)
		}
		if _, dup := files[id]; dup {
			return nil, nil, usagef("--file: element %q given twice", id)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("--file %s is not a regular file", path)
		}
		files[id] = abs
		typ := mime.TypeByExtension(filepath.Ext(path))
		if typ == "" {
			typ = "application/octet-stream"
		}
		attrs, _ := json.Marshal(map[string]string{"filename": filepath.Base(path)})
		do.Elements = append(do.Elements, doip.Element{ID: id, Type: typ, Attributes: attrs})
	}
	return do, files, nil
}

func doipCreate(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("create", e)
	o := addObjectFlags(f)
	id := f.String("id", "", "the object's `ID`, PREFIX/SUFFIX (default: one minted under the service's prefix)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("doip create takes no arguments (the object is --type, --attributes and --file)")
	}
	req, err := f.request(peer.DOIPCreate)
	if err != nil {
		return err
	}
	do, files, err := o.object(e, true)
	if err != nil {
		return err
	}
	do.ID = *id
	req.Object = do
	rep, err := f.call(ctx, req, files, nil)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, rep.Object)
	}
	fmt.Fprintln(e.stdout, rep.Object.ID)
	return nil
}

func doipUpdate(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("update", e)
	o := addObjectFlags(f)
	var remove stringList
	f.Var(&remove, "remove", "delete the element `ELEMENT` (repeatable)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("doip update takes one object ID")
	}
	req, err := f.request(peer.DOIPUpdate)
	if err != nil {
		return err
	}
	do, files, err := o.object(e, false)
	if err != nil {
		return err
	}
	if do.Type == "" && do.Attributes == nil && len(files) == 0 && len(remove) == 0 {
		return usagef("doip update needs --type, --attributes, --file or --remove")
	}
	req.ID, req.Object, req.Remove = pos[0], do, remove
	rep, err := f.call(ctx, req, files, nil)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, rep.Object)
	}
	printObject(e.stdout, rep.Object)
	return nil
}

func doipDelete(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("delete", e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("doip delete takes one object ID")
	}
	req, err := f.request(peer.DOIPDelete)
	if err != nil {
		return err
	}
	req.ID = pos[0]
	if _, err := f.call(ctx, req, nil, nil); err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]string{"deleted": pos[0]})
	}
	fmt.Fprintf(e.stdout, "deleted %s (its history stays in the repository core)\n", pos[0])
	return nil
}

// printObject prints an object for people: its id, type, attributes and elements.
func printObject(w io.Writer, do *doip.DigitalObject) {
	fmt.Fprintf(w, "id          %s\n", do.ID)
	fmt.Fprintf(w, "type        %s\n", do.Type)
	if len(do.Attributes) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, do.Attributes, "            ", "  ") == nil {
			fmt.Fprintf(w, "attributes  %s\n", buf.String())
		}
	}
	for _, el := range do.Elements {
		fmt.Fprintf(w, "element     %s  %d bytes  %s\n", el.ID, el.Length, el.Type)
	}
}

func doipRetrieve(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("retrieve", e)
	element := f.String("element", "", "stream the bytes of element `ELEMENT` (to standard output, or --out)")
	full := f.Bool("full", false, "retrieve every element's bytes too (written to the directory --out)")
	out := f.String("out", "", "with --element, the `FILE` to write; with --full, the directory for the elements")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("doip retrieve takes one object ID")
	}
	switch {
	case *element != "" && *full:
		return usagef("--element and --full do not go together")
	case *element != "" && *f.json && *out == "":
		return usagef("--element with --json needs --out FILE: the bytes are not JSON")
	case *full && *out == "":
		return usagef("--full needs --out DIR for the elements' bytes")
	case *out != "" && *element == "" && !*full:
		return usagef("--out goes with --element or --full")
	}
	req, err := f.request(peer.DOIPRetrieve)
	if err != nil {
		return err
	}
	req.ID, req.Element, req.WithData = pos[0], *element, *full
	sink := newElementSink(e, *out, *element != "")
	rep, err := f.call(ctx, req, nil, sink.write)
	if err != nil {
		sink.abort()
		return err
	}
	if err := sink.commit(); err != nil {
		return err
	}
	switch {
	case *f.json && *element != "":
		return printJSON(e.stdout, rep.Elements[0])
	case *f.json:
		return printJSON(e.stdout, map[string]any{"object": rep.Object, "elements": rep.Elements})
	case *element != "":
		if *out != "" {
			ed := rep.Elements[0]
			fmt.Fprintf(e.stderr, "wrote element %s of %s (%d bytes, sha256 %s) to %s\n", ed.ID, pos[0], ed.Bytes, ed.SHA256, *out)
		}
	default:
		printObject(e.stdout, rep.Object)
		for _, ed := range rep.Elements {
			fmt.Fprintf(e.stdout, "wrote       %s  %d bytes  sha256 %s\n", filepath.Join(*out, ed.ID), ed.Bytes, ed.SHA256)
		}
	}
	return nil
}

// elementSink writes streamed element bytes: one element to standard output or to a file
// (written as FILE.partial and renamed when complete), or every element into a directory.
type elementSink struct {
	e       *env
	out     string
	single  bool
	files   map[string]*os.File
	current string
}

func newElementSink(e *env, out string, single bool) *elementSink {
	return &elementSink{e: e, out: out, single: single, files: map[string]*os.File{}}
}

func (s *elementSink) path(id string) (string, error) {
	if s.single {
		return s.out, nil
	}
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`) || strings.ContainsRune(id, 0) {
		return "", fmt.Errorf("element id %q cannot be a file name in %s", id, s.out)
	}
	return filepath.Join(s.out, id), nil
}

func (s *elementSink) write(ev peer.DOIPEvent) error {
	if s.out == "" {
		_, err := s.e.stdout.Write(ev.Data)
		return err
	}
	f, ok := s.files[ev.Element]
	if !ok {
		path, err := s.path(ev.Element)
		if err != nil {
			return err
		}
		if !s.single {
			if err := os.MkdirAll(s.out, 0o755); err != nil {
				return err
			}
		}
		if f, err = os.Create(path + ".partial"); err != nil {
			return err
		}
		s.files[ev.Element] = f
	}
	_, err := f.Write(ev.Data)
	return err
}

func (s *elementSink) commit() error {
	ids := make([]string, 0, len(s.files))
	for id := range s.files {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := s.files[id]
		if err := f.Close(); err != nil {
			return err
		}
		path := strings.TrimSuffix(f.Name(), ".partial")
		if err := os.Rename(f.Name(), path); err != nil {
			return err
		}
	}
	s.files = nil
	return nil
}

func (s *elementSink) abort() {
	for _, f := range s.files {
		f.Close()
		os.Remove(f.Name())
	}
	s.files = nil
}

func doipSearch(ctx context.Context, e *env, args []string) error {
	f := newDOIPFlags("search", e)
	page := f.Int("page", 0, "the page to return, from 0")
	size := f.Int("page-size", -1, "results per page; -1 all, 0 only the count")
	sort := f.String("sort", "", `the sort FIELDS, "a,b DESC" (id, type, createdOn, modifiedOn or /attribute/path)`)
	ids := f.Bool("ids", false, "return ids only")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef(`doip search takes one QUERY (quote it: 'type:Document +name:"Hello World"')`)
	}
	if *page < 0 || *size < -1 {
		return usagef("--page must be 0 or more and --page-size -1 or more")
	}
	req, err := f.request(peer.DOIPSearch)
	if err != nil {
		return err
	}
	req.Query, req.PageNum, req.PageSize, req.Sort, req.IDsOnly = pos[0], *page, *size, *sort, *ids
	rep, err := f.call(ctx, req, nil, nil)
	if err != nil {
		return err
	}
	res := rep.Search
	if len(res.Unreachable) > 0 {
		fmt.Fprintf(e.stderr, "note: the registry could not ask %s: %s\n", count(len(res.Unreachable), "joined service"), strings.Join(res.Unreachable, ", "))
	}
	if *f.json {
		results := []any{}
		for _, id := range res.IDs {
			results = append(results, id)
		}
		for _, o := range res.Objects {
			results = append(results, o)
		}
		// Cordra's order: size, then results.
		return printJSON(e.stdout, struct {
			Size    int   `json:"size"`
			Results []any `json:"results"`
		}{res.Size, results})
	}
	shown := len(res.IDs) + len(res.Objects)
	if shown == res.Size {
		fmt.Fprintf(e.stdout, "%s\n", count(res.Size, "result"))
	} else {
		fmt.Fprintf(e.stdout, "%s, %d on this page\n", count(res.Size, "result"), shown)
	}
	for _, id := range res.IDs {
		fmt.Fprintln(e.stdout, id)
	}
	for _, o := range res.Objects {
		fmt.Fprintf(e.stdout, "%s  %s%s\n", o.ID, o.Type, summary(o))
	}
	return nil
}

// summary is the object's name or title attribute, when it has one.
func summary(o *doip.DigitalObject) string {
	var a map[string]any
	json.Unmarshal(o.Attributes, &a)
	for _, k := range []string{"name", "title"} {
		if s, ok := a[k].(string); ok && s != "" {
			return "  " + s
		}
	}
	return ""
}

func doipJoin(ctx context.Context, e *env, args []string) error {
	return doipJoinQuit(ctx, e, args, true)
}
func doipQuit(ctx context.Context, e *env, args []string) error {
	return doipJoinQuit(ctx, e, args, false)
}

func doipJoinQuit(ctx context.Context, e *env, args []string, join bool) error {
	name := map[bool]string{true: "join", false: "quit"}[join]
	f := newDOIPFlags(name, e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	op := peer.DOIPQuit
	if join {
		op = peer.DOIPJoin
		if len(pos) != 0 && len(pos) != 2 {
			return usagef("doip join takes REPO-ID REPO-URL, or nothing for this node's own service")
		}
	} else if len(pos) > 1 {
		return usagef("doip quit takes REPO-ID, or nothing for this node's own service")
	}
	if *f.peer == "" {
		return usagef("doip %s needs --peer: the registry", name)
	}
	req, err := f.request(op)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		req.ID = pos[0]
	}
	if len(pos) > 1 {
		req.URL = pos[1]
	}
	if _, err := f.call(ctx, req, nil, nil); err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, map[string]string{name: *f.peer})
	}
	if join {
		fmt.Fprintf(e.stdout, "joined %s: its searches now reach this service\n", *f.peer)
	} else {
		fmt.Fprintf(e.stdout, "quit %s: its searches no longer reach this service\n", *f.peer)
	}
	return nil
}

func doipToken(ctx context.Context, e *env, args []string) error {
	f := newFlags("doip token", e).withRepo().withJSON()
	ttl := f.Duration("ttl", 24*time.Hour, "how long the token is valid (at most 720h)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("doip token takes no arguments")
	}
	if *ttl <= 0 {
		return usagef("--ttl must be positive")
	}
	tok, err := peer.Call(ctx, peer.NewLocal(repoPath(f), e.log), peer.OpDOIPToken, peer.DOIPTokenRequest{TTL: *ttl})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, tok)
	}
	fmt.Fprintln(e.stdout, tok.Token)
	fmt.Fprintf(e.stderr, "an owner token of %s, valid until %s: whoever holds it owns this node's DOIP service\n", tok.ClientID, tok.Expires.Format(time.RFC3339))
	return nil
}

func doipResolve(ctx context.Context, e *env, args []string) error {
	f := newFlags("doip resolve", e).withRepo().withJSON()
	var boot, peers stringList
	f.Var(&boot, "bootstrap", "DHT bootstrap peer, a full multiaddr with /p2p/ (repeatable)")
	f.Var(&peers, "peer", "peer to ask besides the DHT (repeatable)")
	timeout := f.Duration("timeout", 20*time.Second, "how long to look for peers")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("doip resolve takes one ID (PREFIX/SUFFIX, or a PREFIX)")
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	res, err := peer.Call(ctx, b, peer.OpDOIPResolve, peer.DOIPResolveRequest{ID: pos[0], Bootstrap: boot, Peers: peers, Timeout: *timeout})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "prefix %s: %s\n", res.Prefix, count(len(res.Services), "peer"))
	for _, s := range res.Services {
		fmt.Fprintf(e.stdout, "peer %s\n", s.Peer)
		if s.Error != "" {
			first, _, _ := strings.Cut(s.Error, "\n")
			fmt.Fprintf(e.stdout, "  not answering: %s\n", first)
			continue
		}
		si, err := doip.ParseServiceInfo(s.Service)
		if err != nil {
			fmt.Fprintf(e.stdout, "  a malformed Hello: %s\n", err)
			continue
		}
		printServiceInfo(e.stdout, si, "  ")
	}
	return nil
}

func doipUser(ctx context.Context, e *env, args []string) error {
	f := newFlags("doip user", e).withRepo().withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	req := peer.DOIPUsersRequest{}
	switch {
	case len(pos) == 1 && pos[0] == "ls":
		req.Action = "ls"
	case len(pos) == 2 && (pos[0] == "add" || pos[0] == "rm"):
		req.Action, req.Name = pos[0], pos[1]
	default:
		return usagef("doip user takes add NAME, rm NAME or ls")
	}
	if req.Action == "add" {
		req.Password = os.Getenv("DATOMSPACE_DOIP_PASSWORD")
		if req.Password == "" {
			b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
			if err != nil {
				return err
			}
			req.Password = strings.TrimRight(string(b), "\r\n")
		}
		if req.Password == "" {
			return usagef("doip user add needs a password: set $DATOMSPACE_DOIP_PASSWORD or give it on standard input")
		}
	}
	b, err := backend(ctx, e, f)
	if err != nil {
		return err
	}
	defer b.Close()
	res, err := peer.Call(ctx, b, peer.OpDOIPUsers, req)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(e.stdout, res)
	}
	switch req.Action {
	case "add":
		fmt.Fprintf(e.stdout, "user %s may authenticate with --user %s and its password\n", req.Name, req.Name)
	case "rm":
		fmt.Fprintf(e.stdout, "removed user %s\n", req.Name)
	default:
		for _, u := range res.Users {
			fmt.Fprintln(e.stdout, u)
		}
	}
	return nil
}

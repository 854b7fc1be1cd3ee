package dwn

import (
	"context"
	"errors"
	"io"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// The UnixFS layout whose root CID is a record's dataCid: what ipfs-unixfs-importer 15 does by
// default and `ipfs add --cid-version=1` does, CIDv1, raw leaves, 256 KiB chunks, a balanced DAG
// of 174 links per node.
const (
	UnixFSChunkSize = 256 * 1024
	UnixFSMaxLinks  = 174
)

// ImportUnixFS chunks r into dag with the dataCid layout and returns the root CID and the number
// of bytes read.
func ImportUnixFS(ctx context.Context, r io.Reader, dag ipld.DAGService) (cid.Cid, int64, error) {
	cr := &countingReader{r: r}
	params := helpers.DagBuilderParams{
		Maxlinks:   UnixFSMaxLinks,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    dag,
	}
	db, err := params.New(chunker.NewSizeSplitter(cr, UnixFSChunkSize))
	if err != nil {
		return cid.Undef, 0, err
	}
	root, err := balanced.Layout(db)
	if err != nil {
		return cid.Undef, cr.n, err
	}
	return root.Cid(), cr.n, nil
}

// DataCID returns the dataCid of the data r yields, and its size.
func DataCID(r io.Reader) (string, int64, error) {
	c, n, err := ImportUnixFS(context.Background(), r, discardDAG{})
	if err != nil {
		return "", n, err
	}
	return c.String(), n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// discardDAG is a DAGService that keeps nothing: it only lets the importer compute CIDs.
type discardDAG struct{}

var errDiscard = errors.New("discarding DAG service holds no nodes")

func (discardDAG) Get(context.Context, cid.Cid) (ipld.Node, error) { return nil, errDiscard }
func (discardDAG) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}
func (discardDAG) Add(context.Context, ipld.Node) error        { return nil }
func (discardDAG) AddMany(context.Context, []ipld.Node) error  { return nil }
func (discardDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (discardDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

package blobsync

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
)

var regenFuzz = flag.Bool("regen-fuzz", false, "rewrite the seed corpora in testdata/fuzz")

// TestRegenFuzzSeeds writes the wire fuzz seeds: real requests and answers.
func TestRegenFuzzSeeds(t *testing.T) {
	if !*regenFuzz {
		t.Skip("run with -regen-fuzz to rewrite testdata/fuzz")
	}
	v1, pb := testWant(cid.Raw, 1).CID, testWant(cid.DagProtobuf, 2).CID
	reqs := [][]byte{
		appendRequest(nil, []cid.Cid{v1}),
		appendRequest(nil, []cid.Cid{v1, pb, cid.NewCidV0(pb.Hash())}),
		appendRequest(appendRequest(nil, []cid.Cid{pb}), []cid.Cid{v1}),
	}
	for i, b := range reqs {
		writeSeed(t, "FuzzReadRequest", i, fmt.Sprintf("[]byte(%q)\n", b))
	}
	resps := [][]byte{
		append(appendBlockHeader(nil, 5), "hello"...),
		{StatusDontHave},
		appendBlockHeader(nil, 0),
		append(appendBlockHeader(nil, 1<<16), make([]byte, 1<<16)...),
	}
	for i, b := range resps {
		writeSeed(t, "FuzzReadResponse", i, fmt.Sprintf("[]byte(%q)\n", b))
	}
}

func writeSeed(t *testing.T, target string, i int, body string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

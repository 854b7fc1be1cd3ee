package doip_test

import (
	"testing"

	"github.com/datomspace/datomspace/doip"
	"github.com/datomspace/datomspace/doip/blobtest"
)

func TestMemBlobs(t *testing.T) {
	blobtest.TestStore(t, func(t *testing.T) doip.BlobStore { return doip.NewMemBlobs() })
}

func TestFileBlobs(t *testing.T) {
	blobtest.TestStore(t, func(t *testing.T) doip.BlobStore {
		s, err := doip.NewFileBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

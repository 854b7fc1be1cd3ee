//go:build !unix

package datomspace

import "os"

func ownedByMe(os.FileInfo) bool { return true }

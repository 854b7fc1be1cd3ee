#!/usr/bin/env bash
# Builds Kubo v0.39.0, the IPFS reference node (the anchor and interop partner of blobs), from the Go
# module proxy into DIR/ipfs, and prints its version. A binary already in DIR is kept.
# v0.39.0 is the newest Kubo whose go-libp2p the proxy serves; on Go 1.26 it needs
# github.com/cockroachdb/swiss bumped, so it builds in a writable copy of the module.
# Usage: testnet/kubo/build.sh DIR
set -euo pipefail
dir=${1:?usage: build.sh DIR}
mkdir -p "$dir"
if [ -x "$dir/ipfs" ]; then "$dir/ipfs" version; exit 0; fi
src=$(go mod download -json github.com/ipfs/kubo@v0.39.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -d "$src" ] || { echo "build.sh: could not download github.com/ipfs/kubo@v0.39.0" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/kubo"
chmod -R u+w "$work/kubo"
cd "$work/kubo"
GOFLAGS=-mod=mod go get github.com/cockroachdb/swiss@v0.0.0-20260820225851-333444432258
go build -trimpath -o "$dir/ipfs.tmp" ./cmd/ipfs
mv "$dir/ipfs.tmp" "$dir/ipfs"
"$dir/ipfs" version

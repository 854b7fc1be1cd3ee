#!/usr/bin/env bash
# Builds Kubo v0.39.0 (the CID anchor and interop partner of the blob store) from the Go module
# proxy into DIR/ipfs, unless it is there already. Usage: build-kubo.sh [DIR]
# (default ~/.cache/datomspace/kubo, where kubotest looks; DATOMSPACE_KUBO overrides the binary).
# v0.39.0 is the newest Kubo whose go-libp2p the proxy serves; Go 1.26 needs cockroachdb/swiss
# bumped in a writable copy of the module. kubotest configures it with QUIC off: its go-libp2p
# (v0.45) panics in QUIC on Go 1.26.
set -euo pipefail
out=${1:-$HOME/.cache/datomspace/kubo}
if [ -x "$out/ipfs" ]; then "$out/ipfs" version; exit 0; fi
mkdir -p "$out"
src=$(go mod download -json github.com/ipfs/kubo@v0.39.0 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/kubo"
chmod -R u+w "$work/kubo"
(cd "$work/kubo" && go get github.com/cockroachdb/swiss@v0.0.0-20260820225851-333444432258 && go build -o "$out/ipfs" ./cmd/ipfs)
"$out/ipfs" version

#!/bin/sh
# run.sh installs dwn-sdk-js 0.5.2 in a scratch folder under /tmp and runs one of the anchor
# scripts there:
#
#   dwn/anchor/run.sh bench.mjs [writes] [queries]   the benchmarks dwn/dwntest/bench.go mirrors
#   dwn/anchor/run.sh gen.mjs > dwn/testdata/ext.jsonl
#   dwn/anchor/run.sh storevectors.mjs > dwn/testdata/store.jsonl
#   dwn/anchor/run.sh replay.mjs dwn/testdata/dwn.jsonl > dwn/testdata/dwn-replies.jsonl
#   dwn/anchor/run.sh jsonerrors.mjs > dwn/jsv/testdata/json-errors.jsonl
#
# Only the npm registry is contacted. Set DWN_ANCHOR_DIR to reuse a folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
script=$1
shift
dir=${DWN_ANCHOR_DIR:-$(mktemp -d /tmp/dwn-anchor-XXXXXX)}
if [ ! -d "$dir/node_modules/@tbd54566975/dwn-sdk-js" ]; then
	(cd "$dir" && npm init -y >/dev/null && npm i --silent @tbd54566975/dwn-sdk-js@0.5.2 >&2)
fi
cp "$here"/*.mjs "$dir"/
# scripts given a path relative to the repository get it made absolute
args=""
for a in "$@"; do
	case "$a" in
	dwn/*) a="$(pwd)/$a" ;;
	esac
	args="$args $a"
done
cd "$dir"
# shellcheck disable=SC2086
node "$script" $args
if [ -z "${DWN_ANCHOR_DIR:-}" ]; then
	rm -rf "$dir"
fi

#!/usr/bin/env sh
# The seed's story on loopback, in throwaway repos: Alice owns her contacts as datoms and serves
# them beside a bootstrap peer; Bob, who knows only the bootstrap address and the core's key, finds
# Alice through the DHT, downloads and verifies the core, and queries the contacts.
# Usage: demo.sh [path/to/datomspace]
set -eu
ds=${1:-bin/datomspace}
ds=$(cd "$(dirname "$ds")" && pwd)/$(basename "$ds")
dir=$(mktemp -d "${TMPDIR:-/tmp}/datomspace-demo.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$dir/||g; s|$ds|datomspace|"; "$@"; }

# serve REPO ARGS...: start a node in the background, remember its pid for the cleanup, and set
# $addr to its first address once it runs. (Not in a $(...) subshell: the pid must reach cleanup.)
serve() {
	repo=$1; shift
	"$ds" serve --repo "$repo" --listen /ip4/127.0.0.1/tcp/0 "$@" >"$repo.log" 2>&1 &
	pids="$pids $!"
	i=0
	until "$ds" id --repo "$repo" --json 2>/dev/null | grep -q '"running":true'; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat "$repo.log" >&2; exit 1; }
		sleep 0.1
	done
	addr=$("$ds" id --repo "$repo" --json | sed 's/.*"addrs":\["\([^"]*\)".*/\1/')
}

step "1. Three throwaway repos: a bootstrap peer, Alice and Bob"
for who in boot alice bob; do "$ds" init --repo "$dir/$who" >/dev/null; done
echo "in $dir"

step "2. The bootstrap peer runs; it holds nothing"
serve "$dir/boot"
boot=$addr
echo "bootstrap $boot"

step "3. Alice puts her contacts into a datom core: schema and data in one transaction"
cat >"$dir/contacts.json" <<'TX'
[{"db/ident":"person/email","db/valueType":"string","db/cardinality":"one","db/unique":"identity"},
 {"db/ident":"person/age","db/valueType":"int64","db/cardinality":"one"},
 {"db/id":"wang","person/name":"Wang Wei","person/email":"wang@example.cn","person/city":"Beijing","person/age":34},
 {"db/id":"ana","person/name":"Ana Lima","person/email":"ana@example.org","person/city":"Lisbon","person/age":29},
 {"db/id":"li","person/name":"Li Na","person/email":"li@example.cn","person/city":"Beijing","person/age":41}]
TX
run "$ds" transact contacts --file "$dir/contacts.json" --repo "$dir/alice"
key=$("$ds" info contacts --repo "$dir/alice" --json | sed 's/.*"key":"\([0-9a-f]*\)".*/\1/')

step "4. Alice serves it, with the bootstrap peer as her way into the DHT"
serve "$dir/alice" --bootstrap "$boot"
echo "alice     $addr"
echo "the key Alice gives Bob: $key"

step "5. Bob knows the bootstrap address and the key: he finds Alice through the DHT and downloads"
run "$ds" get "$key" --bootstrap "$boot" --repo "$dir/bob"

step "6. Bob checks every block against Alice's signature"
run "$ds" verify "$key" --repo "$dir/bob"

step "7. Bob queries his copy, in Datomic's EDN: who in Beijing is over 35?"
run "$ds" query "$key" '[:find ?name ?age :where [?p :person/city "Beijing"] [?p :person/name ?name] [?p :person/age ?age] [(> ?age 35)]]' --repo "$dir/bob"

step "8. ... and pulls one contact by its unique email"
run "$ds" pull "$key" '["person/email", "wang@example.cn"]' --repo "$dir/bob"

step "done: the repos are removed"

#!/usr/bin/env bash
# Makes a Kubo repo that talks on loopback only: no bootstrap peers, no routing (so no public DHT),
# no mDNS, TCP only (Kubo v0.39's go-libp2p panics in QUIC on Go 1.26), and swarm, API and gateway
# on 127.0.0.1. Usage: IPFS=path/to/ipfs testnet/kubo/configure.sh REPO SWARM_PORT API_PORT GATEWAY_PORT
set -euo pipefail
repo=${1:?repo}; swarm=${2:?swarm port}; api=${3:?api port}; gateway=${4:?gateway port}
ipfs=${IPFS:-ipfs}
export IPFS_PATH=$repo
[ -f "$repo/config" ] || "$ipfs" init --profile test >/dev/null
set_json() { "$ipfs" config --json "$1" "$2"; }
set_json Bootstrap '[]'
"$ipfs" config Routing.Type none
set_json Discovery.MDNS.Enabled false
set_json Swarm.Transports.Network.QUIC false
set_json Swarm.Transports.Network.WebTransport false
set_json Swarm.Transports.Network.WebRTCDirect false
set_json Addresses.Swarm "[\"/ip4/127.0.0.1/tcp/$swarm\"]"
"$ipfs" config Addresses.API "/ip4/127.0.0.1/tcp/$api"
"$ipfs" config Addresses.Gateway "/ip4/127.0.0.1/tcp/$gateway"

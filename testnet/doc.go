// Package testnet runs a multi-peer datomspace network on one machine and checks how it behaves
// under churn. One scenario suite (Scenarios) runs against any Cluster: local processes on
// 127.0.0.x (Local, behind `datomspace testnet up`) or the docker compose testnet (Compose, behind
// `make testnet-test`).
//
// Topology: a bootstrap peer, an owner, a reader and a replica, plus scaled peers that follow one
// core. Every peer finds the others only through the bootstrap peer and the DHT.
package testnet

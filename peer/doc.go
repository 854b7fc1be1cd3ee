// Package peer assembles one datomspace node around a repo: the directory that holds the config,
// the identity, the corestore primary key and the Badger database. This file set covers the repo;
// the libp2p host, discovery and the local API build on it.
package peer

package protocols

import "github.com/datomspace/datomspace/corestore"

// Forget drops what the replicator keeps for a core that was deleted from the store: its
// replication state and its sessions, which are reset. A later Replicate of the same key (a new
// replica) starts afresh, and a peer's stream for it finds the store's core, or none.
func (r *Replicator) Forget(key corestore.Key) {
	dk := corestore.DiscoveryKey(key)
	r.mu.Lock()
	cs := r.cores[dk]
	delete(r.cores, dk)
	var ds []*driver
	if cs != nil {
		for _, d := range cs.sessions {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	for _, d := range ds {
		d.stream.Reset()
	}
	if as := r.cfg.access; as != nil {
		as.gates.Range(func(k, _ any) bool {
			if k.(openKey).dk == dk {
				as.gates.Delete(k)
			}
			return true
		})
		as.creds.Range(func(k, _ any) bool {
			if k.(openKey).dk == dk {
				as.creds.Delete(k)
			}
			return true
		})
	}
}

package doip

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// client returns a connection to the service at url, dialing a new one when there is none or
// the last one broke. Connections are reused by every forwarded request.
func (s *Service) client(ctx context.Context, url string) (*Client, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClientClosed
	}
	c := s.clients[url]
	s.mu.Unlock()
	if c != nil && c.Err() == nil {
		return c, nil
	}
	conn, err := s.dialer.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	nc, err := NewClient(conn, WithAuth(KeyAuth(s.key)))
	if err != nil {
		return nil, err
	}
	if _, err := nc.Hello(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return nil, ErrClientClosed
	}
	if old := s.clients[url]; old != nil && old != c && old.Err() == nil {
		s.mu.Unlock()
		nc.Close()
		return old, nil
	}
	s.clients[url] = nc
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	return nc, nil
}

func (s *Service) dropClient(url string) {
	s.mu.Lock()
	c := s.clients[url]
	delete(s.clients, url)
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// item is one search result on its way to being merged.
type item struct {
	id  string
	do  *DigitalObject
	src int // 0 for this repository, i+1 for joined[i]
}

// federated runs a search here and on every joined service and merges the results. Ordered by
// id (the default), each service is asked for the ids of all its matches (up to MaxPageSize),
// so the merged size and pages are exact: the union of the ids, de-duplicated, sorted and
// paged, and for type full the page's objects are then retrieved from the service each id came
// from (this repository first, then the joined services in the order of their ids). Ordered by
// other fields, each service is asked for its first objects up to the end of the requested
// page, and the size is the sum of the sizes less the duplicates seen. Services that do not
// answer within the forward timeout are left out and named in "unreachable".
func (s *Service) federated(ctx context.Context, p Principal, q SearchRequest, joined []Joined) (*SearchResult, []string, error) {
	byID := len(q.Sort) == 0 || len(q.Sort) == 1 && q.Sort[0].Name == "id"
	sub := q
	sub.PageNum = 0
	if byID {
		sub.IDsOnly, sub.Sort, sub.PageSize = true, nil, MaxPageSize
	} else {
		sub.IDsOnly = false // merging by other fields needs the objects
		switch {
		case q.PageSize < 0:
			sub.PageSize = MaxPageSize
		case q.PageSize > 0:
			sub.PageSize = min((q.PageNum+1)*q.PageSize, MaxPageSize)
		}
	}
	type part struct {
		res *SearchResult
		err error
	}
	parts := make([]part, len(joined)+1)
	clients := make([]*Client, len(joined)+1)
	targets := make([]string, len(joined)+1)
	var wg sync.WaitGroup
	wg.Go(func() { parts[0].res, parts[0].err = s.repo.Search(ctx, p, sub) })
	for i, j := range joined {
		wg.Go(func() {
			fctx, cancel := context.WithTimeout(ctx, s.fwdTO)
			defer cancel()
			c, err := s.client(fctx, j.URL)
			if err != nil {
				parts[i+1].err = err
				return
			}
			target, err := c.ServiceID(fctx)
			if err != nil {
				parts[i+1].err = err
				return
			}
			clients[i+1], targets[i+1] = c, target
			parts[i+1].res, parts[i+1].err = c.SearchAt(fctx, target, sub, map[string]any{"forwardedBy": []string{s.id}})
		})
	}
	wg.Wait()
	if parts[0].err != nil {
		return nil, nil, parts[0].err
	}
	var unreachable []string
	seen := map[string]bool{}
	var items []item
	size, dups := 0, 0
	for i, pt := range parts {
		if pt.err != nil {
			unreachable = append(unreachable, joined[i-1].ID)
			s.log.Warn("doip: forwarded search failed", "service", joined[i-1].ID, "url", joined[i-1].URL, "err", pt.err)
			continue
		}
		size += pt.res.Size
		add := func(id string, do *DigitalObject) {
			if seen[id] {
				dups++
				return
			}
			seen[id] = true
			items = append(items, item{id, do, i})
		}
		for _, id := range pt.res.IDs {
			add(id, nil)
		}
		for _, do := range pt.res.Objects {
			add(do.ID, do)
		}
	}
	size -= dups
	if byID {
		slices.SortStableFunc(items, func(a, b item) int { return strings.Compare(a.id, b.id) })
		if len(q.Sort) == 1 && q.Sort[0].Desc {
			slices.Reverse(items)
		}
	} else {
		objs := map[string]item{}
		ids := make([]string, len(items))
		for i, it := range items {
			objs[it.id], ids[i] = it, it.id
		}
		sortIDs(ids, q.Sort, func(id string) *DigitalObject { return objs[id].do })
		for i, id := range ids {
			items[i] = objs[id]
		}
	}
	lo, hi, err := q.page(max(size, len(items)))
	if err != nil {
		return nil, nil, err
	}
	lo, hi = min(lo, len(items)), min(hi, len(items))
	res := &SearchResult{Size: size}
	page := items[lo:hi]
	if q.IDsOnly {
		res.IDs = make([]string, 0, len(page))
		for _, it := range page {
			res.IDs = append(res.IDs, it.id)
		}
		return res, unreachable, nil
	}
	// Fetch the page's objects from where their ids came from.
	res.Objects = make([]*DigitalObject, len(page))
	errs := make([]error, len(page))
	sem := make(chan struct{}, 16)
	for k, it := range page {
		if it.do != nil {
			res.Objects[k] = it.do
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if it.src == 0 {
				res.Objects[k], errs[k] = s.repo.Get(ctx, it.id)
				return
			}
			fctx, cancel := context.WithTimeout(ctx, s.fwdTO)
			defer cancel()
			res.Objects[k], errs[k] = clients[it.src].Retrieve(fctx, it.id)
		})
	}
	wg.Wait()
	out := res.Objects[:0]
	for k, do := range res.Objects {
		if errs[k] != nil || do == nil {
			// Deleted or become unreadable since the search: left out of the page.
			continue
		}
		out = append(out, do)
	}
	res.Objects = out
	return res, unreachable, nil
}

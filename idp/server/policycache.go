package server

import "sync"

// policyCache keeps the clients, resource apps and managed connections that
// every token request reads. They change only through the admin service
// layer, whose every change ends in adminChange, which invalidates the
// cache; so a lookup costs a map read instead of a SQLite query and JSON
// decoding. A generation counter keeps a lookup that raced with a change
// from storing what it read before the change. Only rows that exist are
// kept, so the cache is bounded by what the admin registered.
type policyCache struct {
	mu      sync.Mutex
	gen     uint64
	clients map[string]client
	apps    map[string]app // by audience
	conns   map[[2]string]connection
}

func (p *policyCache) invalidate() {
	p.mu.Lock()
	p.gen++
	p.clients, p.apps, p.conns = nil, nil, nil
	p.mu.Unlock()
}

// generation is read before a database lookup and passed to the store.
func (p *policyCache) generation() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}

func cacheGet[K comparable, V any](p *policyCache, m func() map[K]V, k K) (V, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := m()[k]
	return v, ok
}

func cachePut[K comparable, V any](p *policyCache, gen uint64, m func() *map[K]V, k K, v V) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen {
		return
	}
	mp := m()
	if *mp == nil {
		*mp = map[K]V{}
	}
	(*mp)[k] = v
}

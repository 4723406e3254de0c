package server

import "testing"

// TestPolicyCacheDropsStaleStore: a lookup that read the database before an
// admin change and stores after it must not put the old row in the cache.
func TestPolicyCacheDropsStaleStore(t *testing.T) {
	var p policyCache
	clients := func() *map[string]client { return &p.clients }
	gen := p.generation()
	p.invalidate() // an admin change lands between the read and the store
	cachePut(&p, gen, clients, "agent0", client{ID: "agent0", Name: "old"})
	if _, ok := cacheGet(&p, func() map[string]client { return p.clients }, "agent0"); ok {
		t.Fatal("a row read before the change was cached after it")
	}
	cachePut(&p, p.generation(), clients, "agent0", client{ID: "agent0", Name: "new"})
	if c, ok := cacheGet(&p, func() map[string]client { return p.clients }, "agent0"); !ok || c.Name != "new" {
		t.Fatalf("a fresh row was not cached: %+v %v", c, ok)
	}
	p.invalidate()
	if _, ok := cacheGet(&p, func() map[string]client { return p.clients }, "agent0"); ok {
		t.Fatal("invalidate kept a row")
	}
}

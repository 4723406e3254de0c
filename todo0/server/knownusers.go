package server

import "sync"

// knownUsers remembers Todo0 user ids the service API found in the database,
// so it checks a user once rather than on every call: Todo0 never deletes a
// user, so one found stays found. Only ids that exist are kept, and at most
// max of them; beyond that a user is looked up on each call, as before.
type knownUsers struct {
	mu  sync.RWMutex
	max int
	m   map[string]struct{}
}

func newKnownUsers(max int) *knownUsers {
	return &knownUsers{max: max, m: map[string]struct{}{}}
}

func (k *knownUsers) has(id string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.m[id]
	return ok
}

func (k *knownUsers) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) < k.max {
		k.m[id] = struct{}{}
	}
}

// maxKnownUsers bounds knownUsers (about 50 bytes an id).
const maxKnownUsers = 100000

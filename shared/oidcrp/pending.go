package oidcrp

import "time"

// maxPending bounds the sign-ins in progress. Anyone can start one (GET
// /login needs no credentials), so the store must not grow with requests.
const maxPending = 10000

// pendingTTL is how long a started sign-in may take.
const pendingTTL = 10 * time.Minute

// pendingStore holds sign-ins in progress by state. Every entry lives
// pendingTTL, so insertion order is expiry order: a FIFO queue finds the
// expired (or, when full, the oldest) entries in constant time per entry,
// instead of a scan of the whole map on every request.
type pendingStore struct {
	m     map[string]pendingLogin
	order []string // states in insertion order; finished ones are skipped
	head  int
}

func (s *pendingStore) add(state string, p pendingLogin, now time.Time) {
	if s.m == nil {
		s.m = map[string]pendingLogin{}
	}
	s.prune(now)
	for len(s.order)-s.head >= maxPending {
		s.pop() // full: the oldest sign-in in progress gives way
	}
	s.m[state] = p
	s.order = append(s.order, state)
}

// take removes and returns the sign-in for state.
func (s *pendingStore) take(state string) (pendingLogin, bool) {
	p, ok := s.m[state]
	delete(s.m, state)
	return p, ok
}

// prune drops expired entries from the front of the queue.
func (s *pendingStore) prune(now time.Time) {
	for s.head < len(s.order) {
		p, ok := s.m[s.order[s.head]]
		if ok && !now.After(p.expires) {
			return
		}
		s.pop()
	}
}

func (s *pendingStore) pop() {
	delete(s.m, s.order[s.head])
	s.order[s.head] = ""
	s.head++
	if s.head > len(s.order)/2 && s.head > 64 {
		s.order = append([]string(nil), s.order[s.head:]...)
		s.head = 0
	}
}

func (s *pendingStore) len() int { return len(s.m) }

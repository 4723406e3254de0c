package dpop

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemoryReplay is a Replay for a server without a database (Todo0 MCP): the
// proof jti values it has seen, each until its expiry, at most Max of them.
// When full of live entries it refuses new proofs rather than forgetting
// one early (fail closed); only holders of a valid access token reach it.
type MemoryReplay struct {
	Max int // 100000 when zero
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// ErrReplayed is a jti seen before; ErrFull a cache with no room.
var (
	ErrReplayed = errors.New("proof jti replayed")
	ErrFull     = errors.New("proof replay cache is full")
)

// Use records jti (per namespace and key) until exp.
func (m *MemoryReplay) Use(_ context.Context, namespace, issuer, jti string, exp time.Time) error {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	max := m.Max
	if max == 0 {
		max = 100000
	}
	k := namespace + "\x00" + issuer + "\x00" + jti
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if e, ok := m.seen[k]; ok && now.Before(e) {
		return ErrReplayed
	}
	if len(m.seen) >= max {
		for key, e := range m.seen {
			if !now.Before(e) {
				delete(m.seen, key)
			}
		}
		if len(m.seen) >= max {
			return ErrFull
		}
	}
	m.seen[k] = exp
	return nil
}

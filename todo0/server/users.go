package server

import (
	"context"
	"sync"

	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// maxCachedUsers bounds the user cache; when it is full it starts again
// empty (users come only from the trusted IdP's signed tokens, but the
// bound holds whatever the IdP sends).
const maxCachedUsers = 10_000

type userKey struct{ iss, sub string }

type cachedUser struct {
	id, email, name string
	seq             uint64 // which write put it here
	committed       bool   // the write committed (settle)
}

// userCache remembers users as they are stored, by (iss, sub), so that a
// returning user whose IdP sent nothing new is not written again: each
// redemption and sign-in otherwise runs an upsert that rewrites nothing.
//
// An entry is written only inside a write transaction (Todo0 begins them
// IMMEDIATE, so they run one at a time): a transaction that writes a user
// leaves a pending entry, settled after its commit or rollback. A pending
// entry counts as unknown, so an entry that counts is the user as last
// committed: never a user that was rolled back (users are never deleted),
// and a profile at most as old as a write still in progress, as if read
// just before it.
type userCache struct {
	mu  sync.Mutex
	seq uint64
	m   map[userKey]cachedUser
}

// lookup returns the user as last committed, if known.
func (c *userCache) lookup(k userKey) (cachedUser, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.m[k]
	return u, ok && u.committed
}

// pending records a write of the user that is not committed yet and
// returns its sequence number for settle.
func (c *userCache) pending(k userKey, u cachedUser) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedUsers {
		c.m = make(map[userKey]cachedUser)
	}
	c.seq++
	u.seq, u.committed = c.seq, false
	c.m[k] = u
	return u.seq
}

// settle marks the write seq of the user committed, or forgets it when its
// transaction rolled back. A later write of the user replaced it already
// when the sequence numbers differ; then nothing changes.
func (c *userCache) settle(k userKey, seq uint64, committed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.m[k]
	switch {
	case !ok || u.seq != seq:
	case committed:
		u.committed = true
		c.m[k] = u
	default:
		delete(c.m, k)
	}
}

// provisioned is the user a transaction found or wrote; settle it once the
// transaction is over.
type provisioned struct {
	id  string
	key userKey
	seq uint64 // 0: nothing was written
}

// settle tells the user cache whether the transaction that provisioned u
// committed (err is InTx's result).
func (s *Server) settle(u provisioned, err error) {
	if u.seq != 0 {
		s.users.settle(u.key, u.seq, err == nil)
	}
}

// knownUser returns the id of the user for (iss, sub) when it is stored
// (committed) with this email and name already, an empty one counting as
// the stored one: then provisioning it would write nothing. A user is never
// deleted, so the answer holds outside a transaction too.
func (s *Server) knownUser(iss, sub, email, name string) (string, bool) {
	u, ok := s.users.lookup(userKey{iss, sub})
	if !ok || (email != "" && email != u.email) || (name != "" && name != u.name) {
		return "", false
	}
	return u.id, true
}

// provision finds or creates the Todo0 user for (iss, sub), keeping the
// email and name the IdP last sent (an empty one keeps the stored value):
// one statement, one write, and none for a known user whose profile is
// unchanged. Call it in a write transaction and settle the result after.
func (s *Server) provision(ctx context.Context, tx sqlitedb.Tx, iss, sub, email, name string) (provisioned, error) {
	k := userKey{iss, sub}
	if id, ok := s.knownUser(iss, sub, email, name); ok {
		return provisioned{id: id, key: k}, nil
	}
	var u cachedUser
	err := tx.QueryRowContext(ctx, `INSERT INTO users(id, iss, sub, email, name, created_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT(iss, sub) DO UPDATE SET
			email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE email END,
			name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END
		RETURNING id, email, name`, "t0u_"+randomID()[:16], iss, sub, email, name, s.now().Unix()).Scan(&u.id, &u.email, &u.name)
	if err != nil {
		return provisioned{}, err
	}
	return provisioned{id: u.id, key: k, seq: s.users.pending(k, u)}, nil
}

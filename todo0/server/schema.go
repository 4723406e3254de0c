package server

import (
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
)

var migrations = []string{
	keys.Migration,
	replay.Migration,
	`CREATE TABLE users (
		id         TEXT PRIMARY KEY,     -- Todo0's own user id
		iss        TEXT NOT NULL,        -- the IdP that vouches for the user
		sub        TEXT NOT NULL,        -- the user's id at that IdP
		email      TEXT NOT NULL DEFAULT '',
		name       TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		UNIQUE (iss, sub)
	);
	CREATE TABLE todos (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		user_id    TEXT NOT NULL REFERENCES users(id),
		title      TEXT NOT NULL,
		done       INTEGER NOT NULL DEFAULT 0,
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL,        -- 'person' or 'agent'
		via_client TEXT NOT NULL DEFAULT '' -- for agents: the client id at Todo0 that acted
	);
	CREATE INDEX todos_user ON todos(user_id, id);
	CREATE TABLE clients (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		kind         TEXT NOT NULL,      -- 'requesting_app' (redeems ID-JAGs) or 'service' (the todo API)
		secret_hash  BLOB,
		auth_methods TEXT NOT NULL,      -- JSON array
		jwks_uri     TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE sessions (
		cookie_hash BLOB PRIMARY KEY,
		user_id     TEXT NOT NULL REFERENCES users(id),
		csrf        TEXT NOT NULL,
		expires_at  INTEGER NOT NULL
	);
	-- Every access token the authorization server issued (not the token itself).
	CREATE TABLE grants (
		jti        TEXT PRIMARY KEY,
		at         INTEGER NOT NULL,
		client_id  TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		resource   TEXT NOT NULL,
		scope      TEXT NOT NULL,
		id_jag_jti TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	);`,
	// Version 4: what the page shows of the grants ("apps acting for you")
	// is kept per user and client, so the page reads one row per app however
	// many tokens were issued, and expired grants can be pruned without the
	// page losing its counts.
	`CREATE TABLE grant_apps (
		user_id   TEXT NOT NULL,
		client_id TEXT NOT NULL,
		n         INTEGER NOT NULL,      -- access tokens issued to the client for the user
		last_at   INTEGER NOT NULL,      -- when the last one was issued
		PRIMARY KEY (user_id, client_id)
	) WITHOUT ROWID;
	INSERT INTO grant_apps(user_id, client_id, n, last_at) SELECT user_id, client_id, COUNT(*), MAX(at) FROM grants WHERE true GROUP BY user_id, client_id;
	CREATE TRIGGER grants_count AFTER INSERT ON grants BEGIN
		INSERT INTO grant_apps(user_id, client_id, n, last_at) VALUES (NEW.user_id, NEW.client_id, 1, NEW.at)
		ON CONFLICT (user_id, client_id) DO UPDATE SET n = n + 1, last_at = max(last_at, excluded.last_at);
	END;
	CREATE INDEX grants_expiry ON grants(expires_at);
	CREATE INDEX sessions_expiry ON sessions(expires_at);`,
	// Version 5: access tokens ended before their expiry by a Shared Signals
	// event from the IdP (ssf_receiver.go); a row goes once the token expired.
	`CREATE TABLE revoked_access_tokens (
		jti        TEXT PRIMARY KEY,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX grants_user_live ON grants(user_id, expires_at);`,
	// Version 6: a grant is also its ID-JAG's replay record (replay_id),
	// kept until both the access token and the ID-JAG have expired: a
	// redemption writes one row, not a grant and a seen_jti record, and the
	// access token's jti, which nothing looks up, is no longer indexed.
	// ID-JAGs redeemed before were recorded in seen_jti: they move here as
	// replay records with no grant (expires_at 0: no token to revoke).
	`CREATE TABLE grants_v6 (
		jti        TEXT NOT NULL,        -- the access token's
		at         INTEGER NOT NULL,
		client_id  TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		resource   TEXT NOT NULL,
		scope      TEXT NOT NULL,
		id_jag_jti TEXT NOT NULL,
		expires_at INTEGER NOT NULL,     -- the access token's
		replay_id  TEXT,                 -- the ID-JAG's issuer NUL jti; NULL when it may be redeemed again (id-jag-reuse)
		id_jag_exp INTEGER NOT NULL DEFAULT 0 -- the ID-JAG's exp
	);
	INSERT INTO grants_v6(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at)
		SELECT jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at FROM grants ORDER BY rowid;
	INSERT INTO grants_v6(jti, at, client_id, user_id, resource, scope, id_jag_jti, expires_at, replay_id, id_jag_exp)
		SELECT '', 0, '', '', '', '', '', 0, CAST(substr(CAST(id AS BLOB), 8) AS TEXT), exp FROM seen_jti
		WHERE substr(CAST(id AS BLOB), 1, 7) = CAST('id-jag' || char(0) AS BLOB);
	DELETE FROM seen_jti WHERE substr(CAST(id AS BLOB), 1, 7) = CAST('id-jag' || char(0) AS BLOB);
	DROP TABLE grants;
	ALTER TABLE grants_v6 RENAME TO grants;
	CREATE UNIQUE INDEX grants_replay ON grants(replay_id);
	CREATE INDEX grants_expiry ON grants(max(expires_at, id_jag_exp));
	CREATE INDEX grants_user_live ON grants(user_id, expires_at);
	CREATE TRIGGER grants_count AFTER INSERT ON grants BEGIN
		INSERT INTO grant_apps(user_id, client_id, n, last_at) VALUES (NEW.user_id, NEW.client_id, 1, NEW.at)
		ON CONFLICT (user_id, client_id) DO UPDATE SET n = n + 1, last_at = max(last_at, excluded.last_at);
	END;`,
}

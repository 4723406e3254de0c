package server

import (
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
)

// migrations is the IdP's schema, one entry per version; never edit a
// released entry, append a new one.
var migrations = []string{
	keys.Migration,
	replay.Migration,
	`CREATE TABLE users (
		id            TEXT PRIMARY KEY,          -- the stable sub
		username      TEXT NOT NULL UNIQUE,
		name          TEXT NOT NULL,
		email         TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		active        INTEGER NOT NULL DEFAULT 1,
		is_admin      INTEGER NOT NULL DEFAULT 0,
		created_at    INTEGER NOT NULL
	);
	-- An app is what an admin assigns users to. A resource app has an audience
	-- (its authorization server's issuer) and the protected resources it serves.
	CREATE TABLE apps (
		id        TEXT PRIMARY KEY,
		name      TEXT NOT NULL,
		audience  TEXT UNIQUE,
		resources TEXT NOT NULL DEFAULT '[]',   -- JSON array of resource identifiers
		scopes    TEXT NOT NULL DEFAULT '[]'    -- JSON array of scopes the resource app knows
	);
	CREATE TABLE clients (
		id            TEXT PRIMARY KEY,
		app_id        TEXT NOT NULL REFERENCES apps(id),
		name          TEXT NOT NULL,
		secret_hash   BLOB,
		auth_methods  TEXT NOT NULL,            -- JSON array
		grant_types   TEXT NOT NULL,            -- JSON array
		redirect_uris TEXT NOT NULL DEFAULT '[]',
		jwks_uri      TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE assignments (
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		app_id  TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
		PRIMARY KEY (user_id, app_id)
	);
	-- Admin policy: which requesting client may get ID-JAGs for which resource app.
	CREATE TABLE managed_connections (
		id                 TEXT PRIMARY KEY,
		client_id          TEXT NOT NULL REFERENCES clients(id),
		resource_app_id    TEXT NOT NULL REFERENCES apps(id),
		resources          TEXT NOT NULL,     -- JSON array: allowed resource identifiers
		scopes             TEXT NOT NULL,     -- JSON array: allowed scopes
		resource_client_id TEXT NOT NULL,     -- the client's id AT the resource AS
		include_email      INTEGER NOT NULL DEFAULT 0,
		enabled            INTEGER NOT NULL DEFAULT 1,
		UNIQUE (client_id, resource_app_id)
	);
	CREATE TABLE sessions (
		sid         TEXT PRIMARY KEY,          -- public id, the ID token's sid
		cookie_hash BLOB NOT NULL UNIQUE,      -- SHA-256 of the cookie value
		user_id     TEXT NOT NULL REFERENCES users(id),
		auth_time   INTEGER NOT NULL,
		expires_at  INTEGER NOT NULL,
		revoked_at  INTEGER
	);
	CREATE TABLE auth_codes (
		code_hash      BLOB PRIMARY KEY,
		client_id      TEXT NOT NULL,
		user_id        TEXT NOT NULL,
		sid            TEXT NOT NULL,
		redirect_uri   TEXT NOT NULL,
		scope          TEXT NOT NULL,
		nonce          TEXT NOT NULL,
		code_challenge TEXT NOT NULL,
		expires_at     INTEGER NOT NULL,
		used_at        INTEGER
	);
	CREATE TABLE refresh_tokens (
		token_hash BLOB PRIMARY KEY,
		id         TEXT NOT NULL UNIQUE,       -- public id for admin listings
		client_id  TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		sid        TEXT NOT NULL,
		scope      TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		revoked_at INTEGER
	);
	CREATE TABLE access_tokens (
		token_hash BLOB PRIMARY KEY,
		client_id  TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		scope      TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE TABLE audit (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		at        INTEGER NOT NULL,
		event     TEXT NOT NULL,     -- sign_in, token_exchange, ...
		outcome   TEXT NOT NULL,     -- granted, denied, ok, failed
		client_id TEXT NOT NULL DEFAULT '',
		user_id   TEXT NOT NULL DEFAULT '',
		error     TEXT NOT NULL DEFAULT '',
		reason    TEXT NOT NULL DEFAULT '',
		rule      TEXT NOT NULL DEFAULT '',
		detail    TEXT NOT NULL DEFAULT '{}'
	);
	CREATE INDEX audit_user ON audit(user_id, id);`,
	// Version 4: groups, group assignments, connection group restriction, the
	// app an audit record concerns.
	`CREATE TABLE groups (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL UNIQUE,
		created_at INTEGER NOT NULL
	);
	CREATE TABLE group_members (
		group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
		user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		PRIMARY KEY (group_id, user_id)
	);
	CREATE TABLE group_assignments (
		group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
		app_id   TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
		PRIMARY KEY (group_id, app_id)
	);
	ALTER TABLE managed_connections ADD COLUMN group_id TEXT NOT NULL DEFAULT '';  -- '' = no group restriction
	ALTER TABLE audit ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
	CREATE INDEX audit_app ON audit(app_id, id);
	CREATE INDEX audit_client ON audit(client_id, id);`,
	// Version 5: the session an access token was issued under, so that
	// revoking the session (sign-out, admin, code replay) stops it at userinfo.
	`ALTER TABLE access_tokens ADD COLUMN sid TEXT NOT NULL DEFAULT '';`,
	// Version 6: the rich authorization request details (RFC 9396) a managed
	// connection allows, as a JSON array of {type, actions}; '[]' allows none.
	`ALTER TABLE managed_connections ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '[]';
	UPDATE managed_connections SET authorization_details = '[{"type":"todo0_todos","actions":["list","create","complete"]}]' WHERE id = 'mc_agent0_todo0';`,
	// Version 7: indexes that keep the admin's filters and pages and the
	// pruning in Maintain flat as the tables grow.
	`CREATE INDEX audit_event ON audit(event, id);
	CREATE INDEX audit_outcome ON audit(outcome, id);
	CREATE INDEX group_members_user ON group_members(user_id, group_id);
	CREATE INDEX sessions_user ON sessions(user_id, auth_time);
	CREATE INDEX sessions_expiry ON sessions(expires_at);
	CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id, created_at);
	CREATE INDEX refresh_tokens_sid ON refresh_tokens(sid);
	CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);
	CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);
	CREATE INDEX access_tokens_expiry ON access_tokens(expires_at);`,
	// Version 8: where a client may send the browser after RP-initiated logout
	// (OpenID Connect RP-Initiated Logout 1.0: registered, compared exactly).
	`ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';`,
	// Version 9: step-up. How recent (seconds) the user's sign-in must be for
	// a connection's exchanges; 0 accepts any.
	`ALTER TABLE managed_connections ADD COLUMN max_auth_age INTEGER NOT NULL DEFAULT 0;`,
	// Version 10: SAML 2.0. The service providers among the clients (their entity id is
	// the Audience of the assertions issued to them) and the IdP's RSA
	// signing key for XML signatures, kept apart from the JWKS keys.
	`CREATE TABLE saml_service_providers (
		client_id TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
		entity_id TEXT NOT NULL UNIQUE,
		acs_url   TEXT NOT NULL
	);
	CREATE TABLE saml_signing_key (
		id         INTEGER PRIMARY KEY CHECK (id = 1),
		key_der    BLOB NOT NULL,   -- PKCS#8 RSA private key
		cert_der   BLOB NOT NULL,   -- self-signed X.509, published in /saml/metadata
		created_at INTEGER NOT NULL
	);`,
	// Version 11: an app's assigned users read as one range per page (the
	// primary key starts with the user, which serves the exchange's check).
	`CREATE INDEX assignments_app ON assignments(app_id, user_id);`,
	// Version 12: parts of the demo world that joined it after a data
	// directory was made, by name. Each is added to an older world once, so
	// one an administrator deletes afterwards stays deleted.
	`CREATE TABLE seed_additions (name TEXT PRIMARY KEY);`,
}

package server

// Todo0 as a Shared Signals receiver: Acme pushes Security Event Tokens
// (RFC 8417, profiled by the OpenID Shared Signals Framework 1.0, delivered
// as RFC 8935 describes) to /ssf/events. A RISC account-disabled or CAEP
// session-revoked event about a user ends that user's live access tokens at
// once: their jti go on the revoked list, which the introspection endpoint
// consults, and which Todo0 MCP asks about when it checks revocation
// (checklist 9.2). Todo0's access tokens do not record the Acme session they
// came from, so a session-revoked event ends all of the user's tokens.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
)

// Event type URIs Todo0 acts on (CAEP 1.0 section 3.1, RISC 1.0 section 2.3).
const (
	eventSessionRevoked  = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	eventAccountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
)

// maxSETAge bounds how old a SET's iat may be; its jti is remembered that long.
const maxSETAge = 10 * time.Minute

// setError is an RFC 8935 section 2.3 error.
type setError struct{ code, desc string }

func (e *setError) Error() string { return e.code + ": " + e.desc }

func setErr(code, format string, a ...any) *setError {
	return &setError{code: code, desc: fmt.Sprintf(format, a...)}
}

// receiveSET is the push endpoint: 202 when the SET is accepted and acted on,
// 400 with {"err", "description"} otherwise (RFC 8935 2.2, 2.3).
func (s *Server) receiveSET(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/secevent+jwt" {
		writeSETError(w, setErr("invalid_request", "a SET is pushed as Content-Type application/secevent+jwt (RFC 8935 2.2)"))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeSETError(w, setErr("invalid_request", "the body is not readable or larger than 64 KiB"))
		return
	}
	ev, err := s.verifySET(r.Context(), strings.TrimSpace(string(raw)))
	if err != nil {
		var se *setError
		if !errors.As(err, &se) {
			s.log.Error("shared signals", "err", err)
			oauth.WriteJSON(w, http.StatusInternalServerError, map[string]string{"err": "server_error", "description": "see Todo0's log"})
			return
		}
		s.log.Info("SET refused", "err", se.code, "description", se.desc)
		writeSETError(w, se)
		return
	}
	n, err := s.revokeUserTokens(r.Context(), ev.sub)
	if err != nil {
		s.log.Error("shared signals", "err", err)
		oauth.WriteJSON(w, http.StatusInternalServerError, map[string]string{"err": "server_error", "description": "see Todo0's log"})
		return
	}
	s.log.Info("shared signal", "event", ev.event, "sub", ev.sub, "access_tokens_ended", n)
	w.WriteHeader(http.StatusAccepted)
}

func writeSETError(w http.ResponseWriter, e *setError) {
	oauth.WriteJSON(w, http.StatusBadRequest, map[string]string{"err": e.code, "description": e.desc})
}

type securityEvent struct{ event, sub string }

// verifySET checks a SET the SSF way: explicit typ, an allowed alg, Acme as
// issuer and signer, Todo0 as audience, no sub and no exp (SSF 1.0 4.1),
// fresh iat, single-use jti, one event Todo0 knows, about an Acme user.
func (s *Server) verifySET(ctx context.Context, raw string) (*securityEvent, error) {
	hdr, _, err := jwtverify.Peek(raw)
	if err != nil {
		return nil, setErr("invalid_request", "not a JWT: %v", err)
	}
	typ, _ := hdr["typ"].(string)
	if !jwtverify.TypMatches(typ, "secevent+jwt") {
		return nil, setErr("invalid_request", "typ is %q; a SET has typ secevent+jwt (RFC 8417 2.3), so no other JWT can pass for one", typ)
	}
	alg, _ := hdr["alg"].(string)
	kid, _ := hdr["kid"].(string)
	algs := jwtverify.DefaultAlgorithms
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil {
		return nil, setErr("invalid_request", "alg %q is not allowed or the JWS is malformed", alg)
	}
	var peek struct {
		Iss string `json:"iss"`
	}
	_ = tok.UnsafeClaimsWithoutVerification(&peek)
	if peek.Iss != s.cfg.IdPIssuer {
		return nil, setErr("invalid_issuer", "iss %q is not the IdP Todo0 trusts", peek.Iss)
	}
	key, err := s.idpKeys.Key(ctx, kid)
	if err != nil {
		return nil, setErr("invalid_key", "kid %q is not in the IdP's JWKS", kid)
	}
	if key.Algorithm != "" && key.Algorithm != alg {
		return nil, setErr("invalid_key", "kid %q is a %s key, the SET says %s", kid, key.Algorithm, alg)
	}
	var c map[string]json.RawMessage
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, setErr("invalid_key", "the signature does not verify with kid %q", kid)
	}
	var claims struct {
		Aud    jwt.Audience `json:"aud"`
		Iat    *int64       `json:"iat"`
		Jti    string       `json:"jti"`
		Events map[string]json.RawMessage
		SubID  struct {
			Format, Iss, Sub string
		} `json:"sub_id"`
	}
	b, _ := json.Marshal(c)
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, setErr("invalid_request", "claims: %v", err)
	}
	if len(claims.Aud) != 1 || claims.Aud[0] != s.cfg.PublicURL {
		return nil, setErr("invalid_audience", "aud %v is not Todo0 (%s)", []string(claims.Aud), s.cfg.PublicURL)
	}
	if _, ok := c["sub"]; ok {
		return nil, setErr("invalid_request", "a SET must not carry sub (SSF 1.0 4.1.2): it could pass for an ID token")
	}
	if _, ok := c["exp"]; ok {
		return nil, setErr("invalid_request", "a SET must not carry exp (SSF 1.0 4.1.7)")
	}
	now := s.now()
	if claims.Iat == nil {
		return nil, setErr("invalid_request", "iat is missing")
	}
	iat := time.Unix(*claims.Iat, 0)
	if iat.After(now.Add(s.cfg.ClockSkew)) || now.Sub(iat) > maxSETAge+s.cfg.ClockSkew {
		return nil, setErr("invalid_request", "iat %s is in the future or older than %s", iat.UTC().Format(time.RFC3339), maxSETAge)
	}
	if claims.Jti == "" {
		return nil, setErr("invalid_request", "jti is missing")
	}
	if err := s.replay.Use(ctx, "set", peek.Iss, claims.Jti, iat.Add(maxSETAge+s.cfg.ClockSkew)); err != nil {
		if errors.Is(err, replay.ErrReplayed) {
			return nil, setErr("invalid_request", "jti %q was received before", claims.Jti)
		}
		return nil, err
	}
	if len(claims.Events) != 1 {
		return nil, setErr("invalid_request", "a SET carries exactly one event (SSF 1.0 4.2.1); this one has %d", len(claims.Events))
	}
	var event string
	for e := range claims.Events {
		event = e
	}
	if event != eventSessionRevoked && event != eventAccountDisabled {
		return nil, setErr("invalid_request", "Todo0 does not act on %s", event)
	}
	if claims.SubID.Format != "iss_sub" || claims.SubID.Iss != s.cfg.IdPIssuer || claims.SubID.Sub == "" {
		return nil, setErr("invalid_request", "sub_id must be an iss_sub subject of the IdP Todo0 trusts")
	}
	return &securityEvent{event: event, sub: claims.SubID.Sub}, nil
}

// revokeUserTokens ends the live access tokens of the user with this IdP
// subject; it returns how many.
func (s *Server) revokeUserTokens(ctx context.Context, sub string) (int64, error) {
	res, err := s.stmts.Exec(ctx, `INSERT OR IGNORE INTO revoked_access_tokens(jti, expires_at)
		SELECT g.jti, g.expires_at FROM grants g JOIN users u ON u.id = g.user_id
		WHERE u.iss = ? AND u.sub = ? AND g.expires_at > ?`, s.cfg.IdPIssuer, sub, s.now().Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// tokenRevoked reports whether an access token was ended early.
func (s *Server) tokenRevoked(ctx context.Context, jti string) (bool, error) {
	var n int
	err := s.stmts.QueryRow(ctx, `SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = ?`, jti).Scan(&n)
	return n > 0, err
}

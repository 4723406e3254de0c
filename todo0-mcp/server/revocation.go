package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// errRevoked: Todo0 says the token is no longer active although it verifies.
var errRevoked = errors.New("the access token was revoked: Todo0 no longer considers it active (its user was disabled or signed out at the IdP, and Todo0 heard of it through Shared Signals)")

// stillActive is the revocation check, when it is on: on every request,
// whether the token's signature was verified now or earlier (the cache of
// verified tokens must not hide a revocation).
func (s *Server) stillActive(ctx context.Context, raw string) error {
	if !s.cfg.CheckRevocation {
		return nil
	}
	return s.checkRevocation(ctx, raw)
}

// checkRevocation asks Todo0's introspection endpoint (RFC 7662) whether a
// verified access token is still active. The token goes back only to the
// authorization server that issued it, authenticated with this server's own
// client; Todo0 MCP never reads Todo0's database. A failure to ask refuses
// the request: with revocation checking on, an unanswered question is not a yes.
func (s *Server) checkRevocation(ctx context.Context, raw string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.cfg.AuthServer, "/")+"/oauth2/introspect",
		strings.NewReader(url.Values{"token": {raw}, "token_type_hint": {"access_token"}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.cfg.ServiceClientID), url.QueryEscape(s.cfg.ServiceClientSecret))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot ask Todo0 whether the token is still active: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out) != nil {
		return fmt.Errorf("cannot ask Todo0 whether the token is still active: introspection answered HTTP %d", resp.StatusCode)
	}
	if !out.Active {
		return errRevoked
	}
	return nil
}

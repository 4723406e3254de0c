package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jsonobj"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

type tokenInfoKey struct{}

// bodyKey holds the request body scopeGate read, for serverFor.
type bodyKey struct{}

// protect guards the MCP endpoint (checklist 4).
//
// The token is verified here, once, so that every refusal carries the
// challenge RFC 6750 3 and RFC 9728 5.1 describe (resource_metadata, scope,
// error="invalid_token" when a token was sent); the SDK's
// auth.RequireBearerToken then puts the verified TokenInfo where the MCP
// server and tool handlers find it. A tools/call whose tool needs a scope the
// token lacks gets 403 insufficient_scope naming that scope, before the MCP
// server sees it.
func (s *Server) protect(next http.Handler) http.Handler {
	sdk := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		if ti, ok := ctx.Value(tokenInfoKey{}).(*auth.TokenInfo); ok {
			return ti, nil
		}
		return nil, auth.ErrInvalidToken
	}, &auth.RequireBearerTokenOptions{ResourceMetadataURL: s.prmURL, ClockSkew: s.cfg.ClockSkew})
	inner := sdk(s.scopeGate(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			// RFC 6750 2.3 allows it; this resource does not (bearer_methods_supported: header).
			s.challenge(w, http.StatusBadRequest, oauth.ErrInvalidRequest, "send the access token in the Authorization header, never in the URL", "")
			return
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			s.challenge(w, http.StatusUnauthorized, "", "", "")
			return
		}
		scheme, tok, _ := strings.Cut(h, " ")
		dpopScheme := strings.EqualFold(scheme, dpop.Scheme)
		if !strings.EqualFold(scheme, "Bearer") && !dpopScheme {
			// RFC 6750 3.1: an unsupported authentication method gets the
			// challenge with no error code, as if no credentials were sent.
			s.challenge(w, http.StatusUnauthorized, "", "", "")
			return
		}
		if strings.TrimSpace(tok) == "" {
			// RFC 6750 3.1: a malformed request (the scheme without a token) is invalid_request, 400.
			s.challenge(w, http.StatusBadRequest, oauth.ErrInvalidRequest, "the Bearer scheme needs a Todo0 access token after it", "")
			return
		}
		ti, err := s.verify(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			s.log.Info("bearer token refused", "err", err)
			s.challenge(w, http.StatusUnauthorized, oauth.ErrInvalidToken, err.Error(), "")
			return
		}
		if err := s.checkBinding(r, dpopScheme, strings.TrimSpace(tok), ti); err != nil {
			s.log.Info("DPoP binding refused", "err", err)
			s.dpopChallenge(w, err)
			return
		}
		if dpopScheme {
			// The SDK's middleware below reads only the Bearer scheme; the
			// token and its proof are checked by now.
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		}
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, ti)))
	})
}

// verify accepts only access tokens its AS issued for this resource: an
// ID-JAG, an ID token or a token for another resource fails typ, iss or aud.
func (s *Server) verify(ctx context.Context, raw string) (*auth.TokenInfo, error) {
	if ti, ok := s.tokens.get(raw); ok {
		return ti, s.stillActive(ctx, raw)
	}
	var c struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		// RFC 9396 9.1: the details the AS granted, checked per tool call.
		AuthorizationDetails json.RawMessage `json:"authorization_details"`
		// RFC 9449 6.1: the DPoP key the token is bound to (checkBinding).
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	t, err := s.verifier.Verify(ctx, raw, &c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotTodo0, err)
	}
	var details []rar.Detail
	if len(c.AuthorizationDetails) > 0 && string(c.AuthorizationDetails) != "null" {
		if details, err = rar.Parse(c.AuthorizationDetails); err != nil {
			return nil, fmt.Errorf("%w: %w", errNotTodo0, err)
		}
	}
	ti := &auth.TokenInfo{
		Scopes:     oauth.SplitScope(c.Scope),
		Expiration: t.Claims.Expiry.Time(),
		UserID:     t.Claims.Subject,
		Extra:      map[string]any{"client_id": c.ClientID, "jti": t.Claims.ID, "authorization_details": details, "cnf_jkt": c.Cnf.JKT},
	}
	s.tokens.put(raw, ti)
	return ti, s.stillActive(ctx, raw)
}

// challenge writes a refusal with its WWW-Authenticate header and a JSON body.
func (s *Server) challenge(w http.ResponseWriter, status int, code, desc, scope string) {
	if scope == "" {
		scope = strings.Join(demo.Todo0Scopes, " ")
	}
	params := []string{fmt.Sprintf("resource_metadata=%q", s.prmURL), fmt.Sprintf("scope=%q", scope)}
	if code != "" {
		params = append(params, fmt.Sprintf("error=%q", code))
	}
	if desc != "" {
		params = append(params, fmt.Sprintf("error_description=%q", sanitizeHeader(desc)))
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	body := map[string]string{}
	if code != "" {
		body["error"], body["error_description"] = code, desc
	} else {
		// RFC 6750 3.1: no credentials, no error code (none is registered for
		// it); the description says what to do.
		body["error_description"] = "this MCP server needs a Todo0 access token; see resource_metadata in WWW-Authenticate"
	}
	oauth.WriteJSON(w, status, body)
}

// sanitizeHeader keeps a description legal inside a quoted header value.
func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}

// maxMCPBody matches the SDK's default request limit.
const maxMCPBody = 4 << 20

// scopeGate refuses a tools/call whose tool needs a scope the token lacks.
func (s *Server) scopeGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxMCPBody+1))
		if err != nil {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
		ti := auth.TokenInfoFromContext(r.Context())
		tools, err := calledTools(body)
		if err != nil {
			oauth.WriteError(w, r, oauth.InvalidRequest("the JSON-RPC message is ambiguous: %v", err))
			return
		}
		for _, name := range tools {
			need, ok := toolScopes[name]
			if ok && (ti == nil || !slices.Contains(ti.Scopes, need)) {
				s.challenge(w, http.StatusForbidden, oauth.ErrInsufficientScope,
					fmt.Sprintf("tool %s needs scope %s", name, need), need)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// calledTools returns the tool names of tools/call requests in a JSON-RPC
// message or batch, reading member names exactly as the SDK does (it decodes
// case-sensitively), so the gate and the server agree on which tool is
// called. A message with duplicate or case-variant names is ambiguous and
// refused; anything else unparsable is left to the MCP server to refuse.
func calledTools(body []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(body)
	msgs := []json.RawMessage{trimmed}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if json.Unmarshal(trimmed, &msgs) != nil {
			return nil, nil
		}
	}
	var out []string
	for _, raw := range msgs {
		m, err := jsonobj.Members(raw)
		if err != nil {
			if errors.Is(err, jsonobj.ErrAmbiguous) {
				return nil, err
			}
			continue
		}
		if method, err := jsonobj.String(m, "method"); err != nil || method != "tools/call" {
			continue
		}
		params, ok := m["params"]
		if !ok {
			continue
		}
		p, err := jsonobj.Members(params)
		if err != nil {
			if errors.Is(err, jsonobj.ErrAmbiguous) {
				return nil, err
			}
			continue
		}
		if name, err := jsonobj.String(p, "name"); err == nil {
			out = append(out, name)
		}
	}
	return out, nil
}

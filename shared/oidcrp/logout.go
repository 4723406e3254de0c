package oidcrp

import (
	"context"
	"errors"
	"net/url"
)

// EndSession returns what signs the user out of the IdP too (OpenID Connect
// RP-Initiated Logout 1.0): the IdP's end_session_endpoint and the
// parameters to send the browser there with: post_logout_redirect_uri
// (registered for this client at the IdP), state, and either id_token_hint
// or client_id.
//
// With idTokenHint (an ID token of the session to end) the IdP can end the
// session at once; the parameters must then go in a POST form body, since a
// token never belongs in a URL. Without one they name the client by
// client_id, may go in a redirect's query, and the IdP asks the user to
// confirm, since anyone could have sent them there.
func (rp *RP) EndSession(ctx context.Context, idTokenHint, postLogoutRedirectURI, state string) (string, url.Values, error) {
	m, err := rp.Metadata(ctx)
	if err != nil {
		return "", nil, err
	}
	if m.EndSessionEndpoint == "" {
		return "", nil, errors.New("oidcrp: the IdP advertises no end_session_endpoint")
	}
	q := url.Values{}
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	} else {
		q.Set("client_id", rp.cfg.ClientID)
	}
	if postLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	}
	if state != "" {
		q.Set("state", state)
	}
	return m.EndSessionEndpoint, q, nil
}

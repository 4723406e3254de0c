package sandboxclient

import (
	"context"
	"net/url"

	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// AuthorizationCode does what a person does in a browser for an OAuth
// authorization request at the sandbox's IdP, with no browser: it opens
// authURL, signs in as username when Acme shows its login form, and stops at
// the redirect to redirectURI, returning that redirect's query (code, state
// and iss, or error and error_description). It is what an SDK's
// "authorization code fetcher" needs in a test. Each call is a new browser
// with no Acme session.
func AuthorizationCode(ctx context.Context, authURL, redirectURI, username, password string) (url.Values, error) {
	return webclient.New().AuthorizationCode(ctx, authURL, redirectURI, username, password)
}

package e2e

import (
	"context"
	"net/url"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// headlessFetcher is an auth.AuthorizationCodeFetcher that signs in with the
// login form instead of opening a browser.
func headlessFetcher(b *webclient.Browser, redirect, user, password string) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		q, err := b.AuthorizationCode(ctx, args.URL, redirect, user, password)
		if err != nil {
			return nil, err
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

// port is the port of a base URL.
func port(raw string) int {
	u, _ := url.Parse(raw)
	p, _ := strconv.Atoi(u.Port())
	return p
}

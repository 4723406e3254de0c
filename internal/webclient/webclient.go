// Package webclient is a headless browser for the sandbox's plain HTML pages:
// a cookie jar, redirects, and the forms the pages render. Tests, the scenario
// runner and SDK harnesses use it to sign in without JavaScript.
package webclient

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Browser is one person's browser: its own cookies.
type Browser struct {
	HTTP *http.Client
}

// New returns a browser with an empty cookie jar.
func New() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Page is a fetched HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
}

// Get fetches u, following redirects.
func (b *Browser) Get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Post submits a form to u, following redirects.
func (b *Browser) Post(ctx context.Context, u string, form url.Values) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}, nil
}

var (
	formRe  = regexp.MustCompile(`(?is)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRe = regexp.MustCompile(`(?is)<input([^>]*)>`)
	attrRe  = regexp.MustCompile(`(?is)(\w+)="([^"]*)"`)
)

// Form returns the fields of the first form whose action ends with action,
// and that action resolved against the page URL.
func (p *Page) Form(action string) (string, url.Values, error) {
	for _, m := range formRe.FindAllStringSubmatch(p.Body, -1) {
		act := html.UnescapeString(m[1])
		if !strings.HasSuffix(act, action) {
			continue
		}
		vals := url.Values{}
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			attrs := map[string]string{}
			for _, a := range attrRe.FindAllStringSubmatch(in[1], -1) {
				attrs[strings.ToLower(a[1])] = html.UnescapeString(a[2])
			}
			if attrs["name"] != "" {
				vals.Set(attrs["name"], attrs["value"])
			}
		}
		target, err := p.URL.Parse(act)
		if err != nil {
			return "", nil, err
		}
		return target.String(), vals, nil
	}
	return "", nil, fmt.Errorf("no form with action %q on %s", action, p.URL)
}

// SubmitForm fills the form whose action ends with action and posts it.
func (b *Browser) SubmitForm(ctx context.Context, p *Page, action string, fields url.Values) (*Page, error) {
	target, vals, err := p.Form(action)
	if err != nil {
		return nil, err
	}
	for k, vs := range fields {
		vals[k] = vs
	}
	return b.Post(ctx, target, vals)
}

// ErrNoLoginForm means the IdP did not ask for credentials (already signed in).
var ErrNoLoginForm = errors.New("no Acme login form")

// SignIn follows start (an app's /login, or an authorization URL) to the
// Acme login form, submits the credentials and returns the page the app
// shows afterwards. With a live Acme session there is no form, and the
// app's page is returned directly.
func (b *Browser) SignIn(ctx context.Context, start, username, password string) (*Page, error) {
	p, err := b.Get(ctx, start)
	if err != nil {
		return nil, err
	}
	if _, _, err := p.Form("/login"); err != nil || !strings.Contains(p.Body, `name="password"`) {
		return p, nil
	}
	return b.SubmitForm(ctx, p, "/login", url.Values{"username": {username}, "password": {password}})
}

// AuthorizationCode runs an authorization request headlessly: it opens
// authURL, signs in when Acme asks, and stops at the redirect to redirectURI
// instead of following it, returning that redirect's query (code, state, iss,
// or error). It is the AuthorizationCodeFetcher an SDK test harness needs.
func (b *Browser) AuthorizationCode(ctx context.Context, authURL, redirectURI, username, password string) (url.Values, error) {
	var landed *url.URL
	stop := *b.HTTP
	stop.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			landed = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	sb := &Browser{HTTP: &stop}
	p, err := sb.Get(ctx, authURL)
	if err != nil {
		return nil, err
	}
	if landed == nil {
		if !strings.Contains(p.Body, `name="password"`) {
			return nil, fmt.Errorf("%w at %s (HTTP %d)", ErrNoLoginForm, p.URL, p.Status)
		}
		if _, err := sb.SubmitForm(ctx, p, "/login", url.Values{"username": {username}, "password": {password}}); err != nil {
			return nil, err
		}
	}
	if landed == nil {
		return nil, fmt.Errorf("sign-in as %s did not redirect to %s", username, redirectURI)
	}
	return landed.Query(), nil
}

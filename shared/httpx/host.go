package httpx

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Hosts are the names a party answers to: the host of its configured public
// URL, and the loopback forms (localhost, 127.0.0.1, [::1]) on the same port.
// Checking the Host header against them defeats DNS rebinding: a page on
// rebind.example whose name later resolves to 127.0.0.1 reaches the party's
// port, but its requests still say Host: rebind.example.
type Hosts struct {
	scheme string
	port   string
	names  map[string]bool // lower-case host names, without port or brackets
}

// NewHosts returns the hosts of publicURL (an absolute http(s) URL).
func NewHosts(publicURL string) Hosts {
	u, err := url.Parse(publicURL)
	if err != nil {
		return Hosts{}
	}
	h := Hosts{scheme: u.Scheme, port: u.Port(), names: map[string]bool{
		strings.ToLower(u.Hostname()): true, "localhost": true, "127.0.0.1": true, "::1": true,
	}}
	if h.port == "" {
		h.port = defaultPort(u.Scheme)
	}
	return h
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// Allowed reports whether a Host header (host or host:port) names this party.
func (h Hosts) Allowed(hostport string) bool {
	if h.names == nil || hostport == "" {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: only valid when the public URL uses the scheme's default port.
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defaultPort(h.scheme)
	}
	return port == h.port && h.names[strings.ToLower(host)]
}

// SameOrigin reports whether an Origin header is this party's origin: the
// public URL's scheme and one of its hosts. "null" and anything else is
// another origin.
func (h Hosts) SameOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != h.scheme || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return false
	}
	return h.Allowed(u.Host)
}

// CheckHost refuses a request whose Host header is not one of hosts with
// 400 invalid_request, before any handler runs.
func CheckHost(hosts Hosts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.Allowed(r.Host) {
			oauth.WriteError(w, r, oauth.InvalidRequest("the Host header %q does not name this server; use its public URL", truncate(r.Host, 100)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// SecureCookie reports whether cookies set for a request must be Secure:
// when the party's public URL is https, even if the request reached it as
// plain HTTP from a TLS-terminating proxy, or when the request itself is TLS.
func SecureCookie(publicURL string, r *http.Request) bool {
	return strings.HasPrefix(publicURL, "https://") || r.TLS != nil
}

package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxFormBytes bounds a token request body. Real requests are a few KiB; an
// ID-JAG with RAR details stays far below this.
const MaxFormBytes = 64 << 10

// ParseTokenForm reads a token endpoint request (RFC 6749 3.2): POST,
// application/x-www-form-urlencoded, bounded in size, no parameter repeated.
// Parameters sent without a value are treated as omitted (RFC 6749 3.1), which
// is what lets the Go MCP SDK's empty "code=" through. Query parameters are ignored.
func ParseTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, &Error{Code: ErrInvalidRequest, Description: "the token endpoint accepts POST only", Status: http.StatusMethodNotAllowed}
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Code: ErrInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, InvalidRequest("could not read the request body")
	}
	raw, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, InvalidRequest("malformed form body")
	}
	form := url.Values{}
	for k, vs := range raw {
		var nonEmpty []string
		for _, v := range vs {
			if v != "" {
				nonEmpty = append(nonEmpty, v)
			}
		}
		switch {
		case len(nonEmpty) == 0:
			continue
		case len(nonEmpty) > 1 && k != "resource" && k != "audience":
			// RFC 8693 allows resource and audience to repeat; nothing else may.
			return nil, InvalidRequest("parameter %q is repeated", k)
		}
		form[k] = nonEmpty
	}
	return form, nil
}

// SplitScope splits a space-delimited scope string (RFC 6749 3.3), dropping
// duplicates and keeping order.
func SplitScope(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Fields(s) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// JoinScope is the inverse of SplitScope.
func JoinScope(scopes []string) string { return strings.Join(scopes, " ") }

// Intersect returns the members of want that are in allowed, in want's order.
func Intersect(want, allowed []string) []string {
	set := map[string]bool{}
	for _, a := range allowed {
		set[a] = true
	}
	var out []string
	for _, w := range want {
		if set[w] {
			out = append(out, w)
		}
	}
	return out
}

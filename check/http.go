package check

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/internal/jwtforge"
)

// response is what came back for one request, reduced to what rules judge.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any // the JSON object, when the body is one
	Raw    []byte
	Err    error // transport failure
}

func (r response) str(name string) string {
	s, _ := r.Body[name].(string)
	return s
}

// summary says what came back in one line, never the whole token.
func (r response) summary() string {
	if r.Err != nil {
		return "no response: " + r.Err.Error()
	}
	if r.Status == http.StatusOK && r.str("access_token") != "" {
		return "200, a token was issued"
	}
	s := fmt.Sprint(r.Status)
	if code := r.str("error"); code != "" {
		s += " " + code
	} else if r.Body == nil && len(r.Raw) > 0 {
		s += " (body is not a JSON object)"
	}
	return s
}

// description is the error_description, shortened for a report.
func (r response) description() string {
	d := r.str("error_description")
	if len(d) > 200 {
		d = d[:200] + "…"
	}
	return d
}

// clientAuth is how the checker authenticates as the client.
type clientAuth struct {
	Method     string // client_secret_basic, client_secret_post, private_key_jwt, or "" for none
	ID, Secret string
	// Key signs private_key_jwt client assertions (RFC 7523 2.2).
	Key *jose.JSONWebKey
}

// clientAssertion is a private_key_jwt assertion for the token endpoint
// (RFC 7523 3: iss = sub = the client, aud = the token endpoint).
func clientAssertion(a clientAuth, tokenEP string) (string, error) {
	now := time.Now()
	payload, err := json.Marshal(map[string]any{"iss": a.ID, "sub": a.ID, "aud": tokenEP, "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	if err != nil {
		return "", err
	}
	alg := jose.SignatureAlgorithm(a.Key.Algorithm)
	if alg == "" {
		alg = jose.RS256
		if _, ok := a.Key.Key.(*ecdsa.PrivateKey); ok {
			alg = jose.ES256
		}
	}
	return jwtforge.Sign(alg, a.Key.Key, map[string]any{"typ": "JWT", "kid": a.Key.KeyID}, payload)
}

const maxBody = 1 << 20

func do(ctx context.Context, hc *http.Client, req *http.Request) response {
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return response{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw, Err: err}
	out.Body = jsonObject(raw)
	return out
}

func jsonObject(raw []byte) map[string]any {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	return obj
}

func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values, a clientAuth) response {
	form = cloneValues(form)
	switch a.Method {
	case "client_secret_post":
		form.Set("client_id", a.ID)
		form.Set("client_secret", a.Secret)
	case "private_key_jwt":
		ca, err := clientAssertion(a, endpoint)
		if err != nil {
			return response{Err: err}
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", ca)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return response{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if a.Method == "client_secret_basic" {
		// RFC 6749 2.3.1: both halves form-urlencoded before Base64.
		cred := url.QueryEscape(a.ID) + ":" + url.QueryEscape(a.Secret)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	return do(ctx, hc, req)
}

func getJSON(ctx context.Context, hc *http.Client, u string, hdr http.Header) response {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return response{Err: err}
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return do(ctx, hc, req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// wellKnown inserts a well-known name between host and path (RFC 8414 3.1,
// RFC 9728 3.1): https://as.example/t1 -> https://as.example/.well-known/NAME/t1.
func wellKnown(id, name string) (string, error) {
	u, err := url.Parse(id)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute URL", id)
	}
	p := strings.TrimSuffix(u.Path, "/")
	u.Path = "/.well-known/" + name + p
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

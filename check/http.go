package check

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
	Method       string // client_secret_basic, client_secret_post, or "" for none
	ID, Secret   string
	SkipClientID bool // post without client_id (not used by the battery)
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
	if a.Method == "client_secret_post" {
		form.Set("client_id", a.ID)
		form.Set("client_secret", a.Secret)
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

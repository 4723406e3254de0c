package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// StepView is one exchange as the inspector shows it: credentials masked
// unless reveal was asked for, client secrets always masked.
type StepView struct {
	Seq               int
	At                string
	Took              string
	Lane              string
	LaneIndex         int
	Title             string
	Method, URL, Path string
	Status            int
	Err               string
	Silent, InFlight  bool
	Request, Response string
	JWTs              []JWTView
	// Repeat is the step that fetched the same document before (0: none).
	Repeat int
	Short  string   // the label on the sequence diagram
	Notes  []string // what looks odd about the step, explained
}

// JWTView is a decoded JWT: header and claims, signature elided.
type JWTView struct {
	Label, Header, Claims, Expiry string
}

// Lanes is the order of the sequence diagram.
var Lanes = []string{LaneIdP, LaneAgent0, LaneAS, LaneMCP}

func laneIndex(l string) int {
	if i := slices.Index(Lanes, l); i >= 0 {
		return i
	}
	return 1
}

// View renders e for display.
func (e *Exchange) View(reveal bool) StepView {
	v := StepView{
		Seq: e.Seq, At: e.Start.UTC().Format("15:04:05.000"), Lane: e.Lane, LaneIndex: laneIndex(e.Lane),
		Title: e.Title, Method: e.Method, Status: e.Status, Err: e.Err, Silent: e.Silent, InFlight: !e.done,
	}
	if e.done {
		v.Took = e.Duration.Round(time.Millisecond).String()
	}
	m := e.masker(reveal)
	u, _ := url.Parse(e.URL)
	if u != nil {
		v.Path = u.Path
	}
	v.URL = m(e.URL)
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s\n", e.Method, v.URL)
	writeHeaders(&req, e.reqHeader, m)
	if len(e.reqBody) > 0 {
		req.WriteString("\n" + m(prettyBody(e.reqBody, e.reqHeader)))
	}
	v.Request = req.String()
	if e.done && e.Err == "" {
		var resp strings.Builder
		fmt.Fprintf(&resp, "%d %s\n", e.Status, http.StatusText(e.Status))
		writeHeaders(&resp, e.respHeader, m)
		if len(e.respBody) > 0 {
			resp.WriteString("\n" + m(prettyBody(e.respBody, e.respHeader)))
		}
		v.Response = resp.String()
	}
	v.JWTs = e.jwts()
	return v
}

// masker replaces credentials in text: revealable ones unless reveal,
// never-shown ones always. Longer values first, so a token that contains
// another is masked whole.
func (e *Exchange) masker(reveal bool) func(string) string {
	secrets := slices.Clone(e.secrets)
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i].value) > len(secrets[j].value) })
	return func(s string) string {
		for _, sc := range secrets {
			if len(sc.value) < 4 || (sc.kind == revealable && reveal) {
				continue
			}
			s = strings.ReplaceAll(s, sc.value, maskValue(sc))
		}
		if !reveal {
			// Any other JWT (for example inside a JSON-RPC payload).
			s = jwtRe.ReplaceAllStringFunc(s, func(t string) string { return maskValue(secret{t, revealable, "JWT"}) })
		}
		return s
	}
}

func maskValue(s secret) string {
	if s.kind == neverShown {
		return "‹" + s.label + ": never shown›"
	}
	keep := min(8, len(s.value)/4)
	return fmt.Sprintf("‹%s %s… %d chars, masked›", s.label, s.value[:keep], len(s.value))
}

var quietHeaders = []string{"Accept-Encoding", "User-Agent", "Content-Length", "Date", "X-Content-Type-Options", "Vary"}

func writeHeaders(b *strings.Builder, h http.Header, m func(string) string) {
	names := make([]string, 0, len(h))
	for k := range h {
		if !slices.Contains(quietHeaders, k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s: %s\n", k, m(v))
		}
	}
}

// prettyBody indents JSON and splits forms one field a line.
func prettyBody(b []byte, h http.Header) string {
	ct := h.Get("Content-Type")
	switch {
	case strings.Contains(ct, "json"):
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			return out.String()
		}
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if v, err := url.ParseQuery(string(b)); err == nil {
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var out strings.Builder
			for _, k := range keys {
				for _, x := range v[k] {
					fmt.Fprintf(&out, "%s=%s\n", k, x)
				}
			}
			return out.String()
		}
	}
	if len(b) >= maxBody {
		return string(b) + "\n… (truncated)"
	}
	return string(b)
}

// jwts decodes every JWT in the exchange (bearer header, form fields,
// token responses), labelled by what it is.
func (e *Exchange) jwts() []JWTView {
	labels := map[string]string{}
	for _, s := range e.secrets {
		if s.kind == revealable {
			labels[s.value] = s.label
		}
	}
	var out []JWTView
	seen := map[string]bool{}
	add := func(text string) {
		for _, raw := range jwtRe.FindAllString(text, -1) {
			if seen[raw] {
				continue
			}
			seen[raw] = true
			hdr, claims, err := decodeJWT(raw)
			if err != nil {
				continue
			}
			label := labels[raw]
			if label == "" {
				label = "JWT"
			}
			jv := JWTView{Label: label, Header: hdr, Claims: claims}
			if c, ok := jwtClaims(raw); ok && c.Exp > 0 {
				jv.Expiry = readableTime(time.Unix(c.Exp, 0), time.Now(), true)
			}
			out = append(out, jv)
		}
	}
	add(e.reqHeader.Get("Authorization"))
	add(string(e.reqBody))
	add(string(e.respBody))
	return out
}

// decodeJWT returns the header and claims as indented JSON, without
// verifying anything: the inspector shows what was sent, the parties verify.
func decodeJWT(raw string) (header, claims string, err error) {
	h, c, err := jwtverify.Peek(raw)
	if err != nil {
		return "", "", err
	}
	hb, _ := json.MarshalIndent(h, "", "  ")
	cb, _ := json.MarshalIndent(c, "", "  ")
	return string(hb), string(cb), nil
}

type basicClaims struct {
	Exp int64 `json:"exp"`
}

func jwtClaims(raw string) (basicClaims, bool) {
	_, c, err := jwtverify.Peek(raw)
	if err != nil {
		return basicClaims{}, false
	}
	exp, ok := c["exp"].(float64)
	return basicClaims{Exp: int64(exp)}, ok
}

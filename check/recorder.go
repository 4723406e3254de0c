package check

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// request is one HTTP request a party received, as the client checker
// judges it. Credentials are kept only as far as rules need them.
type request struct {
	Party, Method, Path string
	Query               url.Values
	RawQuery            string
	Form                url.Values // a POSTed form
	AuthScheme          string     // "Bearer", "Basic" or ""
	Bearer              string     // the bearer token, to tell tokens apart
	Status              int
	Injected            bool // the checker answered instead of the party
}

// recorder wraps the sandbox's parties: it records every request and lets
// a scenario answer some of them itself (inject), e.g. as an expired token.
type recorder struct {
	mu     sync.Mutex
	reqs   []request
	inject func(party string, w http.ResponseWriter, r *http.Request, seen []request) bool
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush keeps event streams working through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *recorder) wrap(party string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := request{Party: party, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), RawQuery: r.URL.RawQuery}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		q.AuthScheme = scheme
		if strings.EqualFold(scheme, "Bearer") {
			q.Bearer = strings.TrimSpace(tok)
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			q.Form, _ = url.ParseQuery(string(body))
		}
		sw := &statusWriter{ResponseWriter: w}
		rec.mu.Lock()
		seen := append([]request(nil), rec.reqs...)
		inject := rec.inject
		rec.mu.Unlock()
		if inject != nil && inject(party, sw, r, seen) {
			q.Injected = true
		} else {
			h.ServeHTTP(sw, r)
		}
		q.Status = sw.status
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, q)
		rec.mu.Unlock()
	})
}

func (rec *recorder) all() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// delay waits d unless the request is cancelled first.
func delay(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

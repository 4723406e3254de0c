package httpx

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
)

// PageCSP is the Content-Security-Policy of every party's pages: only their
// own resources, inline styles, no framing.
const PageCSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

// RenderHTML writes a server-rendered page with the headers every party's
// pages need (never cached: they show personal data and CSRF tokens; never
// framed). The template runs into a buffer first, so a template error is a
// clean 500 rather than half a page. csp replaces PageCSP when not empty.
func RenderHTML(w http.ResponseWriter, t *template.Template, status int, name string, data any, csp string, logger *slog.Logger) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		logger.Error("render", "template", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	if csp == "" {
		csp = PageCSP
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: no-referrer makes browsers send "Origin: null" on
	// same-origin form posts, which the console's cross-site check rightly refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

package server

import (
	"encoding/json"
	"html/template"
	"slices"
	"strings"
	"time"
)

var templateFuncs = template.FuncMap{
	"join":     strings.Join,
	"pages":    func() []string { return []string{"users", "groups", "apps", "connections", "keys", "audit", "faults"} },
	"outcomes": func() []string { return []string{"", "granted", "denied", "ok", "failed"} },
	"unix":     func(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05") },
	"deref":    func(p *int64) int64 { return *p },
	"has":      func(l []string, v string) bool { return slices.Contains(l, v) },
	"tojson": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	// value shows one audit detail: a string as itself, anything else as JSON.
	"value": func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	},
}

package rar

import (
	"errors"
	"testing"
)

// RFC 9396 2: an array of objects, each with a string type; common fields typed.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"one detail", `[{"type":"todo0_todos","actions":["list"]}]`, true},
		{"extra fields kept", `[{"type":"t","locations":["https://x.example"],"custom":{"a":1}}]`, true},
		{"not JSON", `list`, false},
		{"an object, not an array", `{"type":"t"}`, false},
		{"empty array", `[]`, false},
		{"element not an object", `["t"]`, false},
		{"no type", `[{"actions":["list"]}]`, false},
		{"empty type", `[{"type":""}]`, false},
		{"type not a string", `[{"type":7}]`, false},
		{"actions not strings", `[{"type":"t","actions":[1]}]`, false},
		{"actions not an array", `[{"type":"t","actions":"list"}]`, false},
		{"identifier not a string", `[{"type":"t","identifier":["a"]}]`, false},
		{"too many", `[` + repeat(`{"type":"t"},`, MaxDetails) + `{"type":"t"}]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("Parse(%s) err = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// IDJAG 4.3.3: the IdP narrows authorization_details by policy.
func TestNarrow(t *testing.T) {
	policy := []Allowed{{Type: "todo0_todos", Actions: []string{"list", "create", "complete"}}, {Type: "any_action"}}
	req, err := Parse([]byte(`[{"type":"todo0_todos","actions":["list","delete"]},{"type":"other"},{"type":"todo0_todos","actions":["delete"]},{"type":"any_action","actions":["x"]},{"type":"todo0_todos"}]`))
	if err != nil {
		t.Fatal(err)
	}
	got := Narrow(req, policy)
	want, _ := Parse([]byte(`[{"type":"todo0_todos","actions":["list"]},{"type":"any_action","actions":["x"]},{"type":"todo0_todos","actions":["list","create","complete"]}]`))
	if !Equal(got, want) {
		t.Fatalf("Narrow = %v, want %v", got, want)
	}
	if Equal(req, got) || len(req[0].Actions()) != 2 {
		t.Fatalf("Narrow changed its input: %v", req)
	}
	if Narrow(req, nil) != nil {
		t.Fatal("an empty policy allows nothing")
	}
}

func TestPermits(t *testing.T) {
	d, _ := Parse([]byte(`[{"type":"todo0_todos","actions":["list"]},{"type":"open"}]`))
	for _, tc := range []struct {
		typ, action string
		want        bool
	}{
		{"todo0_todos", "list", true},
		{"todo0_todos", "delete", false},
		{"open", "anything", true},
		{"absent", "list", false},
	} {
		if got := Permits(d, tc.typ, tc.action); got != tc.want {
			t.Errorf("Permits(%s, %s) = %v", tc.typ, tc.action, got)
		}
	}
}

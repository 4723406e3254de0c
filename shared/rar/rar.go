// Package rar is Rich Authorization Requests (RFC 9396) as the sandbox uses
// them: parsing the authorization_details parameter or claim, narrowing it
// to what a policy allows, and asking whether it permits an action. The IdP,
// the Todo0 authorization server and Todo0 MCP share it, so the three agree
// on what a detail means.
package rar

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ErrInvalid wraps every reason an authorization_details value is refused.
var ErrInvalid = errors.New("invalid authorization_details")

// MaxDetails bounds how many objects one request may carry.
const MaxDetails = 16

// Detail is one authorization detail object (RFC 9396 2): a required type
// and whatever fields that type defines. The common fields this package
// reads are actions, locations, datatypes and identifier.
type Detail map[string]any

// Type is the detail's type.
func (d Detail) Type() string { s, _ := d["type"].(string); return s }

// Actions are the detail's actions, nil when it names none.
func (d Detail) Actions() []string { return stringList(d["actions"]) }

func stringList(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Parse reads a JSON array of authorization detail objects (RFC 9396 2),
// from a form parameter or a JWT claim. Each object must have a non-empty
// string type; the common fields, when present, must be arrays of strings
// (actions, locations, datatypes, privileges) or a string (identifier).
func Parse(raw []byte) ([]Detail, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%w: must be a JSON array of objects (RFC 9396 2)", ErrInvalid)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: the array is empty", ErrInvalid)
	}
	if len(list) > MaxDetails {
		return nil, fmt.Errorf("%w: more than %d objects", ErrInvalid, MaxDetails)
	}
	out := make([]Detail, 0, len(list))
	for i, item := range list {
		var d Detail
		if err := json.Unmarshal(item, &d); err != nil || d == nil {
			return nil, fmt.Errorf("%w: element %d is not a JSON object", ErrInvalid, i)
		}
		if d.Type() == "" {
			return nil, fmt.Errorf("%w: element %d has no type (RFC 9396 2: type is required)", ErrInvalid, i)
		}
		for _, f := range []string{"actions", "locations", "datatypes", "privileges"} {
			if v, ok := d[f]; ok {
				if l, isList := v.([]any); !isList || len(stringList(v)) != len(l) {
					return nil, fmt.Errorf("%w: element %d: %s must be an array of strings (RFC 9396 2.2)", ErrInvalid, i, f)
				}
			}
		}
		if v, ok := d["identifier"]; ok {
			if _, isString := v.(string); !isString {
				return nil, fmt.Errorf("%w: element %d: identifier must be a string (RFC 9396 2.2)", ErrInvalid, i)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Allowed is what a policy permits for one type: the type, and the actions
// (every action of the type when empty).
type Allowed struct {
	Type    string   `json:"type"`
	Actions []string `json:"actions,omitempty"`
}

// Narrow keeps the details a policy allows: a detail whose type the policy
// does not name is dropped; its actions are cut to the allowed ones, and it
// is dropped when none is left. A detail without actions asks for every
// action of its type and gets the policy's list. The result is a new slice;
// req is not changed.
func Narrow(req []Detail, policy []Allowed) []Detail {
	var out []Detail
	for _, d := range req {
		i := slices.IndexFunc(policy, func(a Allowed) bool { return a.Type == d.Type() })
		if i < 0 {
			continue
		}
		nd := Detail{}
		for k, v := range d {
			nd[k] = v
		}
		if allowed := policy[i].Actions; len(allowed) > 0 {
			want := d.Actions()
			if _, named := d["actions"]; !named {
				want = allowed
			}
			var keep []any
			for _, a := range want {
				if slices.Contains(allowed, a) && !slices.Contains(keep, any(a)) {
					keep = append(keep, a)
				}
			}
			if len(keep) == 0 {
				continue
			}
			nd["actions"] = keep
		}
		out = append(out, nd)
	}
	return out
}

// Permits reports whether any detail of type typ allows action (a detail
// without actions allows every action of its type).
func Permits(details []Detail, typ, action string) bool {
	for _, d := range details {
		if d.Type() != typ {
			continue
		}
		if _, named := d["actions"]; !named || slices.Contains(d.Actions(), action) {
			return true
		}
	}
	return false
}

// Equal reports whether two lists are the same JSON.
func Equal(a, b []Detail) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

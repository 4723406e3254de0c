// Package jsonobj reads a JSON object by its exact member names.
//
// encoding/json matches struct fields case-insensitively and lets the last
// of duplicate members win, so {"typ":"JWT","TYP":"oauth-id-jag+jwt"} fills
// a Typ field with the second value while another parser reads the first.
// Where a decision rests on a member (a JOSE header, a JSON-RPC method), the
// object must mean one thing to every reader: Members refuses duplicate
// names and names that differ only in case.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguous means a member name appears twice, or in two spellings.
var ErrAmbiguous = errors.New("ambiguous JSON object")

// Members returns the members of the JSON object b by exact name. It fails on
// anything but a single object, on a duplicate name, and on two names equal
// but for case.
func Members(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	folded := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if prev, ok := folded[strings.ToLower(name)]; ok {
			if prev == name {
				return nil, fmt.Errorf("%w: member %q appears twice", ErrAmbiguous, name)
			}
			return nil, fmt.Errorf("%w: members %q and %q differ only in case", ErrAmbiguous, prev, name)
		}
		folded[strings.ToLower(name)] = name
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// String returns member name of m as a string: "" when absent, an error when
// present but not a string.
func String(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("member %q is not a string", name)
	}
	return s, nil
}

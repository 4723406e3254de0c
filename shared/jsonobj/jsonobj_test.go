package jsonobj_test

import (
	"errors"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jsonobj"
)

// Exact member names: duplicates and case variants are refused, so an
// object means the same to every parser.
func TestMembersRefusesDuplicateAndCaseVariantNames(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"typ":"JWT","alg":"ES256"}`:                true,
		`{}`:                                         true,
		`{"typ":"JWT","TYP":"oauth-id-jag+jwt"}`:     false,
		`{"typ":"a","typ":"b"}`:                      false,
		`{"name":"create_todo","Name":"list_todos"}`: false,
		`[1]`:        false,
		`{"a":1} {}`: false,
		`{"a":`:      false,
	} {
		m, err := jsonobj.Members([]byte(in))
		if (err == nil) != ok {
			t.Errorf("Members(%s) = %v, %v", in, m, err)
		}
	}
	_, err := jsonobj.Members([]byte(`{"Typ":"x","typ":"y"}`))
	if !errors.Is(err, jsonobj.ErrAmbiguous) {
		t.Fatalf("case variant: %v", err)
	}
	m, _ := jsonobj.Members([]byte(`{"Typ":"oauth-id-jag+jwt"}`))
	if s, _ := jsonobj.String(m, "typ"); s != "" {
		t.Fatalf("typ read from Typ: %q", s)
	}
}

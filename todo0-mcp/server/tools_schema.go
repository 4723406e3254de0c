package server

import (
	"github.com/google/jsonschema-go/jsonschema"
)

// listTodosOutputSchema is list_todos' output schema as inferred from
// listOut, except that todos is an array and never null: the inferred
// schema of a Go slice allows null, which the tool never returns and strict
// schema validators warn about.
func listTodosOutputSchema() *jsonschema.Schema {
	s, err := jsonschema.For[listOut](nil)
	if err != nil {
		panic(err) // listOut is a fixed type; this cannot fail at run time
	}
	if p := s.Properties["todos"]; p != nil {
		p.Types, p.Type = nil, "array"
	}
	return s
}

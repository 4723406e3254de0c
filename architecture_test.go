package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/xaa-sandbox/xaa-sandbox/"

// parties are the four trust domains (DESIGN.md): none may import another's
// packages; they share only shared/ and talk only over HTTP.
var parties = []string{"idp", "agent0", "todo0", "todo0-mcp"}

// TestPartiesDoNotImportEachOther fails when any Go file under one party's
// folder imports a package of another party.
func TestPartiesDoNotImportEachOther(t *testing.T) {
	checked := 0
	for _, p := range parties {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				ip := strings.Trim(imp.Path.Value, `"`)
				if !strings.HasPrefix(ip, module) {
					continue
				}
				rel := strings.TrimPrefix(ip, module)
				top := strings.SplitN(rel, "/", 2)[0]
				if top != p && top != "shared" {
					t.Errorf("%s (party %s) imports %s: parties may import only their own packages and shared/", path, p, ip)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 8 {
		t.Fatalf("checked only %d files; did the layout move?", checked)
	}
}

// TestSharedImportsNoParty keeps shared/ free of party code too.
func TestSharedImportsNoParty(t *testing.T) {
	err := filepath.WalkDir("shared", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			ip := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(ip, module) && !strings.HasPrefix(ip, module+"shared/") {
				t.Errorf("%s imports %s: shared/ may not depend on a party or the front door", path, ip)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

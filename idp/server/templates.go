package server

import (
	"html/template"
	"strings"
)

var templateFuncs = template.FuncMap{"join": strings.Join}

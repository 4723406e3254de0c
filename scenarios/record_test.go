package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNarrationFoldsToolTextCopy: a tool result's text content that only
// repeats structuredContent is shown as a note, and any other text (an
// error message, a summary that differs) is shown as sent.
func TestNarrationFoldsToolTextCopy(t *testing.T) {
	cases := []struct {
		name, body string
		folded     bool
	}{
		{"copy", `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"id\":1,\"title\":\"milk\"}"}],"structuredContent":{"title":"milk","id":1}}}`, true},
		{"different text", `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"id\":2}"}],"structuredContent":{"id":1}}}`, false},
		{"plain text", `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"no such todo"}],"isError":true}}`, false},
		{"not a tool result", `{"access_token":"x","token_type":"Bearer"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(c.body), &m); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(m)
			out, _ := json.Marshal(foldTextCopy(m))
			if got := strings.Contains(string(out), textCopyNote); got != c.folded {
				t.Errorf("folded = %v, want %v: %s", got, c.folded, out)
			}
			if after, _ := json.Marshal(m); string(after) != string(before) {
				t.Errorf("the recorded response was changed: %s", after)
			}
		})
	}
}

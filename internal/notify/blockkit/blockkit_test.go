package blockkit

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// The builders make the JSON of Slack's Block Kit reference, which the
// fixture spells out, and the fixture decodes to what they build.
func TestMessageJSON(t *testing.T) {
	want, err := os.ReadFile("testdata/message.json")
	if err != nil {
		t.Fatal(err)
	}
	m := Message{
		Text: ":x: CloneBackend failed on d1abc23/dev (job 0001, 4m 10s)",
		Blocks: []Block{
			Header(Plain(":x: CloneBackend failed on d1abc23/dev")),
			Fields(Mrkdwn("*App*\n`d1abc23`"), Mrkdwn("*Environment*\n`dev`")),
			Section(Mrkdwn("*Error*\n```\nResource is not in the state stackUpdateComplete\n```")),
			Context(Mrkdwn("submitted 2026-03-02T11:01:59.870Z · 4 polls")),
		},
	}
	got, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Errorf("JSON =\n%s\nwant\n%s", got, compact.Bytes())
	}
	var decoded Message
	if err := json.Unmarshal(want, &decoded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded, m) {
		t.Errorf("decoded %+v\nwant %+v", decoded, m)
	}
}

package blockkit

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// built is testdata/message.json made with the builders.
var built = Message{
	Text: ":x: CloneBackend failed on d1abc23/dev (job 0001, 4m 10s)",
	Blocks: []Block{
		Header(Plain(":x: CloneBackend failed on d1abc23/dev")),
		Fields(Mrkdwn("*App*\n`d1abc23`"), Mrkdwn("*Environment*\n`dev`")),
		Section(Mrkdwn("*Error*\n```\nResource is not in the state stackUpdateComplete\n```")),
		Context(Mrkdwn("submitted 2026-03-02T11:01:59.870Z · 4 polls")),
	},
}

// The builders make the JSON of Slack's Block Kit reference, which the
// fixture spells out (no field more or less), and the fixture decodes to
// what they build.
func TestMessageJSON(t *testing.T) {
	fixture, err := os.ReadFile("testdata/message.json")
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(encoded, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fixture, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON =\n%s\nwant\n%s", encoded, fixture)
	}
	var decoded Message
	if err := json.Unmarshal(fixture, &decoded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded, built) {
		t.Errorf("decoded %+v\nwant %+v", decoded, built)
	}
}

package slacktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// CheckBlocks checks a message body against Block Kit's rules for the
// blocks jobwatch uses (header, section, context, divider): the stand-in
// refuses what Slack would. It reads the JSON on its own, not through
// blockkit's types, so that a field those types misname or add is caught
// as Slack would catch it.
func CheckBlocks(body []byte) error {
	var m struct {
		Blocks []map[string]json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	if n := len(m.Blocks); n > 50 {
		return fmt.Errorf("%d blocks; at most 50", n)
	}
	for i, b := range m.Blocks {
		var typ string
		_ = json.Unmarshal(b["type"], &typ)
		if err := checkBlock(b, typ); err != nil {
			return fmt.Errorf("block %d (%s): %w", i, typ, err)
		}
	}
	return nil
}

// blockFields are the fields each block type may have (of those the
// stand-in checks: a section's accessory is not one).
var blockFields = map[string][]string{
	"header":  {"type", "block_id", "text"},
	"section": {"type", "block_id", "text", "fields"},
	"context": {"type", "block_id", "elements"},
	"divider": {"type", "block_id"},
}

func checkBlock(b map[string]json.RawMessage, typ string) error {
	allowed, ok := blockFields[typ]
	if !ok {
		return errors.New("not a block type the stand-in checks")
	}
	for name := range b {
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("unknown field %q", name)
		}
	}
	switch typ {
	case "header":
		return checkText("text", b["text"], 150, true)
	case "section":
		return checkSection(b)
	case "context":
		return checkList("elements", b["elements"], 10, 3000)
	}
	return nil
}

func checkSection(b map[string]json.RawMessage) error {
	if b["text"] == nil && b["fields"] == nil {
		return errors.New("neither text nor fields")
	}
	if b["text"] != nil {
		if err := checkText("text", b["text"], 3000, false); err != nil {
			return err
		}
	}
	if b["fields"] != nil {
		return checkList("fields", b["fields"], 10, 2000)
	}
	return nil
}

// checkList checks a list of 1 to most text objects of at most max
// characters each.
func checkList(where string, raw json.RawMessage, most, max int) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if n := len(list); n == 0 || n > most {
		return fmt.Errorf("%s: %d elements; want 1 to %d", where, n, most)
	}
	for k, t := range list {
		if err := checkText(fmt.Sprintf("%s %d", where, k), t, max, false); err != nil {
			return err
		}
	}
	return nil
}

// checkText checks a text object: plain_text or mrkdwn, emoji only on
// plain text, verbatim only on mrkdwn, 1 to max characters.
func checkText(where string, raw json.RawMessage, max int, plainOnly bool) error {
	if raw == nil {
		return fmt.Errorf("%s: no text", where)
	}
	var t struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Emoji    *bool  `json:"emoji"`
		Verbatim *bool  `json:"verbatim"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case t.Type != "plain_text" && t.Type != "mrkdwn":
		return fmt.Errorf("%s: type %q; want plain_text or mrkdwn", where, t.Type)
	case plainOnly && t.Type != "plain_text":
		return fmt.Errorf("%s: type %s; want plain_text", where, t.Type)
	case t.Emoji != nil && t.Type != "plain_text":
		return fmt.Errorf("%s: emoji is for plain_text only", where)
	case t.Verbatim != nil && t.Type != "mrkdwn":
		return fmt.Errorf("%s: verbatim is for mrkdwn only", where)
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > max {
		return fmt.Errorf("%s: %d characters; want 1 to %d", where, n, max)
	}
	return nil
}

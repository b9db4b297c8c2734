package blockkit

// Message is the body of a post to an incoming webhook.
type Message struct {
	// Text is the fallback that notifications and clients without Block
	// Kit show.
	Text   string  `json:"text,omitempty"`
	Blocks []Block `json:"blocks,omitempty"`
}

// The block types notify sends, and the divider Render knows.
const (
	TypeHeader  = "header"
	TypeSection = "section"
	TypeContext = "context"
	TypeDivider = "divider"
)

// Block is one layout block. One struct serves every kind notify sends;
// Type says which fields it has: a header Text (plain text), a section
// Text, Fields or both, a context Elements.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []Text `json:"elements,omitempty"`
}

// The text object types.
const (
	PlainText = "plain_text"
	Markdown  = "mrkdwn"
)

// Text is a text object: plain text, or Slack's mrkdwn.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
	// Emoji, for plain text only, shows emoji codes as emoji.
	Emoji bool `json:"emoji,omitempty"`
}

// Plain returns a plain-text object showing emoji codes as emoji.
func Plain(s string) Text { return Text{Type: PlainText, Text: s, Emoji: true} }

// Mrkdwn returns a mrkdwn text object; s must already be escaped.
func Mrkdwn(s string) Text { return Text{Type: Markdown, Text: s} }

// Header returns a header block showing text, which must be plain.
func Header(text Text) Block { return Block{Type: TypeHeader, Text: &text} }

// Section returns a section block showing text.
func Section(text Text) Block { return Block{Type: TypeSection, Text: &text} }

// Fields returns a section block of fields, which Slack lays out in two
// columns.
func Fields(fields ...Text) Block { return Block{Type: TypeSection, Fields: fields} }

// Context returns a context block: a line of small print.
func Context(elements ...Text) Block { return Block{Type: TypeContext, Elements: elements} }

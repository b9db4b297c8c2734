package ddbmem

import (
	"fmt"
	"strings"
)

// tokenKind tells the tokens of an expression apart.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // a bare attribute name, a keyword or a function
	tokName             // #name
	tokValue            // :value
	tokNumber           // a list index
	tokPunct            // ( ) [ ] , . = <> < <= > >= + -
)

type token struct {
	kind tokenKind
	text string
}

// is reports whether t is the punctuation or (case-insensitive) keyword s.
func (t token) is(s string) bool {
	return (t.kind == tokPunct || t.kind == tokIdent) && strings.EqualFold(t.text, s)
}

func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// lex splits an expression into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':' || isLetter(c):
			j := i + 1
			for j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
				j++
			}
			kind := map[byte]tokenKind{'#': tokName, ':': tokValue}[c]
			if kind == tokEOF {
				kind = tokIdent
			}
			if j == i+1 && kind != tokIdent {
				return nil, fmt.Errorf("syntax error: %q stands alone at %d", c, i)
			}
			toks = append(toks, token{kind, s[i:j]})
			i = j
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j]})
			i = j
		default:
			n := punct(s[i:])
			if n == 0 {
				return nil, fmt.Errorf("syntax error: unexpected %q at %d", c, i)
			}
			toks = append(toks, token{tokPunct, s[i : i+n]})
			i += n
		}
	}
	return append(toks, token{kind: tokEOF}), nil
}

// punct is the length of the punctuation s starts with, 0 for none.
func punct(s string) int {
	for _, p := range []string{"<>", "<=", ">=", "(", ")", "[", "]", ",", ".", "=", "<", ">", "+", "-"} {
		if strings.HasPrefix(s, p) {
			return len(p)
		}
	}
	return 0
}

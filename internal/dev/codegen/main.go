// Command codegen writes the typed operations, shapes, enums and errors of
// package amplify from the AmplifyBackend service model that botocore ships
// (a copy is kept next to this file, so generation needs no Python).
//
// Run it with `go generate ./internal/amplify` after replacing the model.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"html"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

type model struct {
	Metadata   map[string]any       `json:"metadata"`
	Operations map[string]operation `json:"operations"`
	Shapes     map[string]*shape    `json:"shapes"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input         *ref   `json:"input"`
	Output        *ref   `json:"output"`
	Errors        []ref  `json:"errors"`
	Documentation string `json:"documentation"`
}

type ref struct {
	Shape string `json:"shape"`
}

type member struct {
	Shape         string `json:"shape"`
	Location      string `json:"location"`
	LocationName  string `json:"locationName"`
	Documentation string `json:"documentation"`
	Sensitive     bool   `json:"sensitive"`
}

type shape struct {
	Type          string             `json:"type"`
	Members       map[string]*member `json:"members"`
	Required      []string           `json:"required"`
	Enum          []string           `json:"enum"`
	Member        *ref               `json:"member"`
	Min           *int64             `json:"min"`
	Max           *int64             `json:"max"`
	Exception     bool               `json:"exception"`
	Sensitive     bool               `json:"sensitive"`
	Documentation string             `json:"documentation"`
	Error         struct {
		HTTPStatusCode int `json:"httpStatusCode"`
	} `json:"error"`
}

// credentialMembers are redacted in logs even where the model does not mark
// them sensitive: they are secrets by name.
var credentialMembers = map[string]bool{"ClientSecret": true, "PrivateKey": true, "ChallengeCode": true}

func main() {
	modelPath := flag.String("model", "internal/dev/codegen/service-2.json.gz", "botocore service model (.json or .json.gz)")
	out := flag.String("out", ".", "directory of package amplify")
	flag.Parse()

	m, err := load(*modelPath)
	if err != nil {
		log.Fatal(err)
	}
	g := &gen{m: m, out: *out}
	if err := g.run(); err != nil {
		log.Fatal(err)
	}
}

func load(path string) (*model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r interface{ Read([]byte) (int, error) } = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	var m model
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &m, nil
}

type gen struct {
	m   *model
	out string
	// nested holds the structure shapes reachable from operations that are
	// not operation inputs or outputs: they live in package types.
	nested map[string]bool
	enums  map[string]bool
}

func (g *gen) opNames() []string {
	names := make([]string, 0, len(g.m.Operations))
	for n := range g.m.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (g *gen) run() error {
	g.nested = map[string]bool{}
	g.enums = map[string]bool{}
	top := map[string]bool{}
	for _, n := range g.opNames() {
		op := g.m.Operations[n]
		top[op.Input.Shape] = true
		top[op.Output.Shape] = true
	}
	for _, n := range g.opNames() {
		op := g.m.Operations[n]
		g.walk(op.Input.Shape, top)
		g.walk(op.Output.Shape, top)
	}
	for _, n := range g.opNames() {
		if err := g.writeOperation(n); err != nil {
			return err
		}
	}
	if err := g.writeTypes(); err != nil {
		return err
	}
	if err := g.writeEnums(); err != nil {
		return err
	}
	if err := g.writeErrors(); err != nil {
		return err
	}
	return g.writeTable()
}

func (g *gen) walk(name string, top map[string]bool) {
	s := g.m.Shapes[name]
	switch s.Type {
	case "structure":
		if !top[name] {
			if g.nested[name] {
				return
			}
			g.nested[name] = true
		}
		for _, mn := range sortedKeys(s.Members) {
			g.walk(s.Members[mn].Shape, top)
		}
	case "list":
		g.walk(s.Member.Shape, top)
	case "string":
		if len(s.Enum) > 0 {
			g.enums[name] = true
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// goType is the Go type of a member targeting shape name, seen from package
// amplify (types prefixed) or from package types.
func (g *gen) goType(name string, inTypes bool) string {
	s := g.m.Shapes[name]
	qual := "types."
	if inTypes {
		qual = ""
	}
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			return qual + name
		}
		return "*string"
	case "boolean":
		return "*bool"
	case "integer":
		return "*int32"
	case "long":
		return "*int64"
	case "double":
		return "*float64"
	case "timestamp":
		return "*time.Time"
	case "list":
		return "[]" + strings.TrimPrefix(g.goType(s.Member.Shape, inTypes), "*")
	case "structure":
		return "*" + qual + name
	}
	panic("unsupported shape type " + s.Type + " of " + name)
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// comment turns model documentation (HTML) into a Go comment.
func comment(prefix, doc string) string {
	text := tagRE.ReplaceAllString(doc, " ")
	text = html.UnescapeString(text)
	words := strings.Fields(text)
	if len(words) == 0 {
		return ""
	}
	if prefix != "" {
		words = append([]string{prefix}, words...)
	}
	var b strings.Builder
	line := "//"
	for _, w := range words {
		if len(line)+1+len(w) > 78 && line != "//" {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// lowerFirst turns a model documentation sentence into the continuation of a
// Go doc comment ("CloneBackend clones ...").
func docSentence(name, doc string) string {
	text := strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(doc, " ")))
	text = strings.TrimPrefix(text, "This operation ")
	text = strings.TrimPrefix(text, "Operation ")
	if text == "" {
		return comment("", name+" calls the "+name+" operation.")
	}
	r := []rune(text)
	r[0] = unicode.ToLower(r[0])
	return comment(name, string(r))
}

func (g *gen) writeStruct(b *bytes.Buffer, goName, shapeName string, inTypes, output bool) {
	s := g.m.Shapes[shapeName]
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	fmt.Fprintf(b, "type %s struct {\n", goName)
	for _, mn := range g.memberOrder(shapeName) {
		mem := s.Members[mn]
		target := g.m.Shapes[mem.Shape]
		b.WriteString(comment("", mem.Documentation))
		if req[mn] && !output {
			b.WriteString("//\n// This member is required.\n")
		}
		var tags []string
		switch mem.Location {
		case "uri":
			tags = append(tags, `json:"-"`, `location:"uri"`, fmt.Sprintf(`locationName:"%s"`, mem.LocationName))
		case "":
			wire := mem.LocationName
			if wire == "" {
				wire = mn
			}
			tags = append(tags, fmt.Sprintf(`json:"%s,omitzero"`, wire))
		default:
			panic("unsupported member location " + mem.Location)
		}
		if req[mn] && !output {
			tags = append(tags, `required:"true"`)
		}
		if mem.Sensitive || target.Sensitive || credentialMembers[mn] {
			tags = append(tags, `sensitive:"true"`)
		}
		if target.Min != nil && target.Type != "string" && target.Type != "list" {
			tags = append(tags, fmt.Sprintf(`min:"%d"`, *target.Min))
		}
		if target.Max != nil && target.Type != "string" && target.Type != "list" {
			tags = append(tags, fmt.Sprintf(`max:"%d"`, *target.Max))
		}
		fmt.Fprintf(b, "\t%s %s `%s`\n\n", mn, g.goType(mem.Shape, inTypes), strings.Join(tags, " "))
	}
	if output {
		b.WriteString("\t// Metadata pertaining to the operation's result, such as the request ID.\n")
		b.WriteString("\tResultMetadata middleware.Metadata `json:\"-\"`\n")
	}
	b.WriteString("}\n\n")
	recv := strings.ToLower(goName[:1])
	_ = recv
	fmt.Fprintf(b, "// String renders the set members of v with sensitive members redacted.\nfunc (v %s) String() string { return codec.String(v) }\n\n", goName)
	fmt.Fprintf(b, "// GoString is String, so %%#v redacts too.\nfunc (v %s) GoString() string { return codec.String(v) }\n\n", goName)
	fmt.Fprintf(b, "// LogValue logs the set members of v with sensitive members redacted.\nfunc (v %s) LogValue() slog.Value { return codec.LogValue(v) }\n\n", goName)
}

// memberOrder lists members with URI labels first, then in model order of
// the documentation (alphabetical in botocore's JSON, which is what we have).
func (g *gen) memberOrder(shapeName string) []string {
	s := g.m.Shapes[shapeName]
	names := sortedKeys(s.Members)
	slices.SortStableFunc(names, func(a, b string) int {
		ua, ub := s.Members[a].Location == "uri", s.Members[b].Location == "uri"
		switch {
		case ua && !ub:
			return -1
		case ub && !ua:
			return 1
		}
		return 0
	})
	return names
}

func (g *gen) uses(shapeName, typ string) bool {
	s := g.m.Shapes[shapeName]
	for _, mem := range s.Members {
		t := g.m.Shapes[mem.Shape]
		if t.Type == typ {
			return true
		}
		if t.Type == "structure" && typ == "structure" {
			return true
		}
		if t.Type == "list" && g.m.Shapes[t.Member.Shape].Type == typ {
			return true
		}
		if typ == "enum" && (len(t.Enum) > 0 || (t.Type == "list" && len(g.m.Shapes[t.Member.Shape].Enum) > 0)) {
			return true
		}
	}
	return false
}

const header = "// Code generated by internal/dev/codegen from the AmplifyBackend service model. DO NOT EDIT.\n\n"

func (g *gen) writeOperation(name string) error {
	op := g.m.Operations[name]
	in, out := op.Input.Shape, op.Output.Shape
	var b bytes.Buffer
	b.WriteString(header + "package amplify\n\n")
	b.WriteString("import (\n\t\"context\"\n\t\"log/slog\"\n\n")
	if g.uses(in, "structure") || g.uses(out, "structure") || g.uses(in, "enum") || g.uses(out, "enum") {
		b.WriteString("\t\"github.com/jobwatch/jobwatch/internal/amplify/types\"\n")
	}
	b.WriteString("\t\"github.com/jobwatch/jobwatch/internal/amplify/internal/codec\"\n\t\"github.com/aws/smithy-go/middleware\"\n)\n\n")

	b.WriteString(docSentence(name, op.Documentation))
	fmt.Fprintf(&b, "func (c *Client) %s(ctx context.Context, params *%sInput, optFns ...func(*Options)) (*%sOutput, error) {\n", name, name, name)
	fmt.Fprintf(&b, "\tif params == nil {\n\t\tparams = &%sInput{}\n\t}\n", name)
	fmt.Fprintf(&b, "\tout := &%sOutput{}\n", name)
	fmt.Fprintf(&b, "\tmetadata, err := c.invokeOperation(ctx, op%s, params, out, optFns)\n", name)
	b.WriteString("\tif err != nil {\n\t\treturn nil, err\n\t}\n\tout.ResultMetadata = metadata\n\treturn out, nil\n}\n\n")

	fmt.Fprintf(&b, "// %sInput is the input of %s.\n", name, name)
	g.writeStruct(&b, name+"Input", in, false, false)
	fmt.Fprintf(&b, "// %sOutput is the output of %s.\n", name, name)
	g.writeStruct(&b, name+"Output", out, false, true)
	return g.write(fmt.Sprintf("api_op_%s.go", name), b.Bytes())
}

func (g *gen) writeTypes() error {
	var b bytes.Buffer
	b.WriteString(header + "package types\n\nimport (\n\t\"log/slog\"\n\n\t\"github.com/jobwatch/jobwatch/internal/amplify/internal/codec\"\n)\n\n")
	for _, n := range sortedKeys(g.nested) {
		s := g.m.Shapes[n]
		if s.Exception {
			continue
		}
		doc := comment(n, strings.TrimSpace(lowerFirstWord(tagRE.ReplaceAllString(s.Documentation, " "))))
		if doc == "" {
			doc = fmt.Sprintf("// %s is a shape of the service model.\n", n)
		}
		b.WriteString(doc)
		if s.Sensitive {
			b.WriteString("//\n// The service marks this shape sensitive: it is redacted when printed or logged.\n")
		}
		g.writeStruct(&b, n, n, true, false)
	}
	return g.write("types/types.go", b.Bytes())
}

func lowerFirstWord(s string) string {
	s = strings.TrimSpace(html.UnescapeString(s))
	for _, p := range []string{"The ", "Describes ", "Defines "} {
		if strings.HasPrefix(s, p) {
			return "is " + strings.ToLower(p[:1]) + s[1:]
		}
	}
	if s == "" {
		return ""
	}
	return "is: " + s
}

// enumConst turns an enum value into the suffix of its Go constant name, as
// the SDK does: USER_POOL_ONLY -> UserPoolOnly.
func enumConst(v string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		b.WriteString(strings.ToUpper(part[:1]) + strings.ToLower(part[1:]))
	}
	return b.String()
}

func (g *gen) writeEnums() error {
	var b bytes.Buffer
	b.WriteString(header + "package types\n\n")
	for _, n := range sortedKeys(g.enums) {
		s := g.m.Shapes[n]
		fmt.Fprintf(&b, "// %s is an enum of the service model.\ntype %s string\n\n", n, n)
		fmt.Fprintf(&b, "// Enum values for %s.\nconst (\n", n)
		for _, v := range s.Enum {
			fmt.Fprintf(&b, "\t%s%s %s = %q\n", n, enumConst(v), n, v)
		}
		b.WriteString(")\n\n")
		fmt.Fprintf(&b, "// Values returns all known values for %s. The service may add values,\n// so a value not listed here is not necessarily invalid.\n", n)
		fmt.Fprintf(&b, "func (%s) Values() []%s {\n\treturn []%s{\n", n, n, n)
		for _, v := range s.Enum {
			fmt.Fprintf(&b, "\t\t%q,\n", v)
		}
		b.WriteString("\t}\n}\n\n")
	}
	return g.write("types/enums.go", b.Bytes())
}

// errorNames lists the error shapes the operations name, sorted.
func (g *gen) errorNames() []string {
	errs := map[string]bool{}
	for _, n := range g.opNames() {
		for _, e := range g.m.Operations[n].Errors {
			errs[e.Shape] = true
		}
	}
	return sortedKeys(errs)
}

func (g *gen) writeErrors() error {
	var b bytes.Buffer
	b.WriteString(header + "package types\n\nimport (\n\t\"fmt\"\n\n\tsmithy \"github.com/aws/smithy-go\"\n)\n\n")
	for _, n := range g.errorNames() {
		s := g.m.Shapes[n]
		fault := "smithy.FaultClient"
		if s.Error.HTTPStatusCode >= 500 {
			fault = "smithy.FaultServer"
		}
		b.WriteString(comment(n, lowerFirstWord(tagRE.ReplaceAllString(s.Documentation, " "))))
		fmt.Fprintf(&b, "//\n// The service answers it with HTTP status %d.\n", s.Error.HTTPStatusCode)
		fmt.Fprintf(&b, "type %s struct {\n", n)
		for _, mn := range sortedKeys(s.Members) {
			mem := s.Members[mn]
			fmt.Fprintf(&b, "\t%s *string `json:\"%s,omitzero\"`\n", mn, mem.LocationName)
		}
		b.WriteString("\n\tErrorCodeOverride *string `json:\"-\"`\n}\n\n")
		fmt.Fprintf(&b, "func (e *%s) Error() string {\n\treturn fmt.Sprintf(\"%%s: %%s\", e.ErrorCode(), e.ErrorMessage())\n}\n\n", n)
		fmt.Fprintf(&b, "// ErrorMessage returns the message the service sent.\nfunc (e *%s) ErrorMessage() string {\n\tif e.Message == nil {\n\t\treturn \"\"\n\t}\n\treturn *e.Message\n}\n\n", n)
		fmt.Fprintf(&b, "// ErrorCode returns %q unless the service sent another code for it.\nfunc (e *%s) ErrorCode() string {\n\tif e == nil || e.ErrorCodeOverride == nil {\n\t\treturn %q\n\t}\n\treturn *e.ErrorCodeOverride\n}\n\n", n, n, n)
		fmt.Fprintf(&b, "// ErrorFault says whether the client or the service is at fault.\nfunc (e *%s) ErrorFault() smithy.ErrorFault { return %s }\n\n", n, fault)
		fmt.Fprintf(&b, "// HTTPStatusCode is the status the service answers %s with.\nfunc (e *%s) HTTPStatusCode() int { return %d }\n\n", n, n, s.Error.HTTPStatusCode)
	}
	return g.write("types/errors.go", b.Bytes())
}

// snake converts an operation name the way botocore's xform_name does:
// CreateBackendAPI -> create_backend_api, ListS3Buckets -> list_s3_buckets.
func snake(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// startsJob reports whether an operation starts a backend job: its output
// carries a JobId and it is not one of the job-inspection operations.
func (g *gen) startsJob(name string) bool {
	switch name {
	case "GetBackendJob", "ListBackendJobs", "UpdateBackendJob":
		return false
	}
	_, ok := g.m.Shapes[g.m.Operations[name].Output.Shape].Members["JobId"]
	return ok
}

func (g *gen) writeTable() error {
	var b bytes.Buffer
	b.WriteString(header + "package amplify\n\nimport (\n\t\"context\"\n\n\tsmithy \"github.com/aws/smithy-go\"\n\n\t\"github.com/jobwatch/jobwatch/internal/amplify/types\"\n)\n\n")
	for _, n := range g.opNames() {
		op := g.m.Operations[n]
		fmt.Fprintf(&b, "var op%s = &Operation{\n", n)
		fmt.Fprintf(&b, "\tName: %q,\n\tSnakeName: %q,\n\tMethod: %q,\n\tPath: %q,\n\tStartsJob: %v,\n", n, snake(n), op.HTTP.Method, op.HTTP.RequestURI, g.startsJob(n))
		fmt.Fprintf(&b, "\tnewInput: func() any { return &%sInput{} },\n", n)
		b.WriteString("}\n\n")
	}
	// The calls are set in init: a method refers to its operation variable,
	// so the variable cannot refer to the method in its initializer.
	b.WriteString("func init() {\n")
	for _, n := range g.opNames() {
		fmt.Fprintf(&b, "\top%s.call = func(ctx context.Context, c *Client, in any, optFns []func(*Options)) (any, error) {\n\t\treturn c.%s(ctx, in.(*%sInput), optFns...)\n\t}\n", n, n, n)
	}
	b.WriteString("}\n\n")
	b.WriteString("// operations lists every operation of the service model, by name.\nvar operations = []*Operation{\n")
	for _, n := range g.opNames() {
		fmt.Fprintf(&b, "\top%s,\n", n)
	}
	b.WriteString("}\n\n")
	b.WriteString("// modeledErrors makes the typed error of each error code in the model.\nvar modeledErrors = map[string]func() smithy.APIError{\n")
	for _, n := range g.errorNames() {
		fmt.Fprintf(&b, "\t%q: func() smithy.APIError { return &types.%s{} },\n", n, n)
	}
	b.WriteString("}\n")
	return g.write("operations.go", b.Bytes())
}

func (g *gen) write(rel string, src []byte) error {
	formatted, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("format %s: %w\n%s", rel, err, src)
	}
	// goimports is not at hand: drop imports a file does not use.
	formatted = pruneImports(formatted)
	path := filepath.Join(g.out, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, formatted, 0o644)
}

func pruneImports(src []byte) []byte {
	s := string(src)
	for _, imp := range []struct{ path, use string }{
		{`"github.com/jobwatch/jobwatch/internal/amplify/types"`, "types."},
		{`"time"`, "time."},
	} {
		if strings.Contains(s, imp.path) && !strings.Contains(s, imp.use) {
			s = strings.Replace(s, "\t"+imp.path+"\n", "", 1)
		}
	}
	out, err := format.Source([]byte(s))
	if err != nil {
		return src
	}
	return out
}

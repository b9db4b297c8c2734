package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Facts are what a deployment knows that the template only names: pseudo
// parameters, parameter values, and what Ref and Fn::GetAtt return for the
// resources. For `jobwatch local` they are the names, URLs and ARNs of the
// resources it created on the local servers.
type Facts struct {
	// Region, AccountID and StackName are AWS::Region, AWS::AccountId and
	// AWS::StackName. Partition is AWS::Partition, "aws" when empty.
	Region, AccountID, StackName, Partition string
	// Parameters override the template's defaults; a list parameter's value
	// is comma separated, as CloudFormation takes it.
	Parameters map[string]string
	// Refs is what Ref returns for a resource, by logical id: a queue's URL,
	// the name of a bus, table or function.
	Refs map[string]string
	// Attrs is what Fn::GetAtt returns, keyed "<logical id>.<attribute>":
	// Attrs["JobsQueue.Arn"].
	Attrs map[string]string
}

// A Resolver evaluates a template's expressions against Facts. It supports
// Ref, Fn::GetAtt, Fn::Sub (${Name}, ${Name.Attr}, ${!Literal}, variable
// maps), Fn::Join, Fn::Select, Fn::Split, Fn::If with the template's
// Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) and
// AWS::NoValue. It is safe for concurrent use.
type Resolver struct {
	app   *Application
	facts Facts
	// params holds each parameter's value: a string, or []any of strings
	// for a list.
	params map[string]any
	conds  map[string]bool
}

// noValue is what Ref AWS::NoValue resolves to: the enclosing property,
// list element or map entry is dropped.
type noValue struct{}

// NewResolver checks the parameter values — every parameter has one, each
// fits its AllowedValues and AllowedPattern, no override names a parameter
// the template lacks — and evaluates the template's conditions.
func (a *Application) NewResolver(f Facts) (*Resolver, error) {
	r := &Resolver{app: a, facts: f, params: make(map[string]any, len(a.Parameters)), conds: make(map[string]bool, len(a.Conditions))}
	if r.facts.Partition == "" {
		r.facts.Partition = "aws"
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(f.Parameters)) {
		if _, ok := a.Parameters[name]; !ok {
			errs = append(errs, fmt.Errorf("parameter %s: not in the template", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Parameters)) {
		v, err := parameterValue(a.Parameters[name], f.Parameters)
		if err != nil {
			errs = append(errs, fmt.Errorf("parameter %s: %w", name, err))
			continue
		}
		r.params[name] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(a.Conditions)) {
		if _, err := r.condition(name, map[string]bool{}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func parameterValue(p Parameter, overrides map[string]string) (any, error) {
	v, ok := overrides[p.Name]
	if !ok {
		if !p.HasDefault {
			return nil, errors.New("has no value and the template gives no default")
		}
		v = p.Default
	}
	values := []string{v}
	if p.IsList() {
		values = strings.Split(v, ",")
	}
	var pattern *regexp.Regexp
	if p.AllowedPattern != "" {
		var err error
		if pattern, err = regexp.Compile(`^(?:` + p.AllowedPattern + `)$`); err != nil {
			return nil, fmt.Errorf("AllowedPattern: %w", err)
		}
	}
	for _, e := range values {
		if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, e) {
			return nil, fmt.Errorf("is %q; want one of %s", e, strings.Join(p.AllowedValues, ", "))
		}
		if pattern != nil && !pattern.MatchString(e) {
			return nil, fmt.Errorf("is %q; want a value matching %s", e, p.AllowedPattern)
		}
		if p.Type == "Number" || p.Type == "List<Number>" {
			if _, err := strconv.ParseFloat(e, 64); err != nil {
				return nil, fmt.Errorf("is %q; want a number", e)
			}
		}
	}
	if !p.IsList() {
		return v, nil
	}
	list := make([]any, len(values))
	for i, e := range values {
		list[i] = e
	}
	return list, nil
}

// Resolve evaluates e: the result is a string, float64, bool, []any or
// map[string]any, or nil for an absent value or AWS::NoValue.
func (r *Resolver) Resolve(e Expr) (any, error) {
	v, err := r.resolve(e.v)
	if _, ok := v.(noValue); ok {
		return nil, err
	}
	return v, err
}

// String evaluates e to a string, as CloudFormation passes a value to a
// string property: numbers and booleans become text.
func (r *Resolver) String(e Expr) (string, error) {
	v, err := r.resolve(e.v)
	if err != nil {
		return "", err
	}
	return text(v)
}

// Strings evaluates e to a list of strings; a single string is a list of one.
func (r *Resolver) Strings(e Expr) ([]string, error) {
	v, err := r.resolve(e.v)
	if err != nil {
		return nil, err
	}
	return texts(v)
}

// Condition returns the value of the template's condition name.
func (r *Resolver) Condition(name string) (bool, error) {
	v, ok := r.conds[name]
	if !ok {
		return false, fmt.Errorf("condition %s: not in the template", name)
	}
	return v, nil
}

// Environment resolves the function's environment variables; a variable
// that resolves to AWS::NoValue is left out. The error names every variable
// that cannot be resolved.
func (r *Resolver) Environment(f *Function) (map[string]string, error) {
	env := make(map[string]string, len(f.Environment))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(f.Environment)) {
		v, err := r.resolve(f.Environment[name].v)
		if err == nil {
			if _, drop := v.(noValue); drop {
				continue
			}
			env[name], err = text(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s environment %s: %w", f.LogicalID, name, err))
		}
	}
	return env, errors.Join(errs...)
}

func (r *Resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := rv.(noValue); !drop {
				out = append(out, rv)
			}
		}
		return out, nil
	case map[string]any:
		if name, arg, ok := intrinsic(x); ok {
			rv, err := r.call(name, arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return rv, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := rv.(noValue); !drop {
				out[k] = rv
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *Resolver) call(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("want a name, got %s", Expr{arg})
		}
		return r.ref(s)
	case "Fn::GetAtt":
		id, attr, ok := getAttArgs(arg)
		if !ok {
			return nil, fmt.Errorf("want [logical id, attribute], got %s", Expr{arg})
		}
		return r.getAtt(id, attr)
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::Join":
		return r.join(arg)
	case "Fn::Select":
		return r.selectItem(arg)
	case "Fn::Split":
		return r.split(arg)
	case "Fn::If":
		return r.ifThen(arg)
	}
	return nil, errors.New("not supported by samtemplate")
}

// delimited reads the [delimiter, value] of Fn::Join and Fn::Split: a
// literal delimiter, which Fn::Split needs not empty, and the value
// resolved.
func (r *Resolver) delimited(arg any, nonEmpty bool) (string, any, error) {
	args, err := r.args(arg, 2)
	if err != nil {
		return "", nil, err
	}
	sep, ok := args[0].(string)
	if !ok || nonEmpty && sep == "" {
		return "", nil, fmt.Errorf("the delimiter must be a literal string, got %s", Expr{args[0]})
	}
	v, err := r.resolve(args[1])
	return sep, v, err
}

func (r *Resolver) join(arg any) (any, error) {
	sep, list, err := r.delimited(arg, false)
	var parts []string
	if err == nil {
		parts, err = texts(list)
	}
	return strings.Join(parts, sep), err
}

func (r *Resolver) split(arg any) (any, error) {
	sep, src, err := r.delimited(arg, true)
	if err != nil {
		return nil, err
	}
	s, err := text(src)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, part := range strings.Split(s, sep) {
		out = append(out, part)
	}
	return out, nil
}

func (r *Resolver) selectItem(arg any) (any, error) {
	args, err := r.args(arg, 2)
	if err != nil {
		return nil, err
	}
	idx, err := r.resolve(args[0])
	if err != nil {
		return nil, err
	}
	is, err := text(idx)
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(is)
	if err != nil {
		return nil, fmt.Errorf("index %q is not a whole number", is)
	}
	list, err := r.resolve(args[1])
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %s", Expr{list})
	}
	if i < 0 || i >= len(items) {
		return nil, fmt.Errorf("index %d is outside the list of %d", i, len(items))
	}
	return items[i], nil
}

func (r *Resolver) ifThen(arg any) (any, error) {
	args, err := r.args(arg, 3)
	if err != nil {
		return nil, err
	}
	cond, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("want a condition name, got %s", Expr{args[0]})
	}
	yes, err := r.Condition(cond)
	if err != nil {
		return nil, err
	}
	if yes {
		return r.resolve(args[1])
	}
	return r.resolve(args[2])
}

// args returns the n-element argument list of a function.
func (r *Resolver) args(arg any, n int) ([]any, error) {
	list, ok := arg.([]any)
	if !ok || len(list) != n {
		return nil, fmt.Errorf("want a list of %d arguments, got %s", n, Expr{arg})
	}
	return list, nil
}

func (r *Resolver) ref(name string) (any, error) {
	if strings.HasPrefix(name, "AWS::") {
		return r.pseudo(name)
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	typ, ok := r.app.Resources[name]
	if !ok {
		return nil, fmt.Errorf("%s is neither a parameter nor a resource of the template", name)
	}
	v, ok := r.facts.Refs[name]
	if !ok {
		return nil, fmt.Errorf("no value for the %s %s: set Facts.Refs[%q]", typ, name, name)
	}
	return v, nil
}

func (r *Resolver) getAtt(id, attr string) (any, error) {
	typ, ok := r.app.Resources[id]
	if !ok {
		return nil, fmt.Errorf("%s is not a resource of the template", id)
	}
	key := id + "." + attr
	v, ok := r.facts.Attrs[key]
	if !ok {
		return nil, fmt.Errorf("no value for %s of the %s %s: set Facts.Attrs[%q]", attr, typ, id, key)
	}
	return v, nil
}

func (r *Resolver) pseudo(name string) (any, error) {
	var v string
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::Region":
		v = r.facts.Region
	case "AWS::AccountId":
		v = r.facts.AccountID
	case "AWS::StackName":
		v = r.facts.StackName
	case "AWS::Partition":
		v = r.facts.Partition
	case "AWS::URLSuffix":
		v = "amazonaws.com"
		if r.facts.Partition == "aws-cn" {
			v = "amazonaws.com.cn"
		}
	default:
		return nil, fmt.Errorf("pseudo parameter %s is not supported", name)
	}
	if v == "" {
		return nil, fmt.Errorf("no value for %s: set it in Facts", name)
	}
	return v, nil
}

// sub evaluates Fn::Sub: "template" or ["template", {variables}].
func (r *Resolver) sub(arg any) (any, error) {
	tmpl, ok := arg.(string)
	vars := map[string]any{}
	if !ok {
		args, err := r.args(arg, 2)
		if err != nil {
			return nil, err
		}
		if tmpl, ok = args[0].(string); !ok {
			return nil, fmt.Errorf("the template must be a literal string, got %s", Expr{args[0]})
		}
		m, ok := args[1].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want a map of variables, got %s", Expr{args[1]})
		}
		vars = m
	}
	var b strings.Builder
	for {
		start := strings.Index(tmpl, "${")
		if start < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		end := strings.Index(tmpl[start:], "}")
		if end < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:start])
		name := tmpl[start+2 : start+end]
		tmpl = tmpl[start+end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var v any
		var err error
		if expr, ok := vars[name]; ok {
			v, err = r.resolve(expr)
		} else if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = r.getAtt(id, attr)
		} else {
			v, err = r.ref(name)
		}
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", name, err)
		}
		s, err := text(v)
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", name, err)
		}
		b.WriteString(s)
	}
}

// condition evaluates the named condition once; busy catches cycles.
func (r *Resolver) condition(name string, busy map[string]bool) (bool, error) {
	if v, ok := r.conds[name]; ok {
		return v, nil
	}
	e, ok := r.app.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: not in the template", name)
	}
	if busy[name] {
		return false, fmt.Errorf("condition %s: refers to itself", name)
	}
	busy[name] = true
	v, err := r.truth(e.v, busy)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.conds[name] = v
	return v, nil
}

// truth evaluates a condition function.
func (r *Resolver) truth(v any, busy map[string]bool) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("want a condition function, got %s", Expr{v})
	}
	for name, arg := range m {
		switch name {
		case "Condition":
			s, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("Condition: want a name, got %s", Expr{arg})
			}
			return r.condition(s, busy)
		case "Fn::Equals":
			args, err := r.args(arg, 2)
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			a, err := r.resolve(args[0])
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			b, err := r.resolve(args[1])
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			return reflect.DeepEqual(canonical(a), canonical(b)), nil
		case "Fn::Not":
			args, err := r.args(arg, 1)
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			t, err := r.truth(args[0], busy)
			return !t, err
		case "Fn::And", "Fn::Or":
			list, ok := arg.([]any)
			if !ok || len(list) < 2 {
				return false, fmt.Errorf("%s: want a list of 2 to 10 conditions, got %s", name, Expr{arg})
			}
			all := name == "Fn::And"
			for _, c := range list {
				t, err := r.truth(c, busy)
				if err != nil {
					return false, err
				}
				if t != all {
					return t, nil
				}
			}
			return all, nil
		}
		return false, fmt.Errorf("%s: not a condition function", name)
	}
	panic("unreachable")
}

// canonical turns scalars into their text so that Fn::Equals compares
// values as CloudFormation does ("5" equals 5).
func canonical(v any) any {
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = canonical(e)
		}
		return out
	}
	if s, err := text(v); err == nil {
		return s
	}
	return v
}

// text is a resolved scalar as a string.
func text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("want a string, got %s", Expr{v})
}

// texts is a resolved list (or single scalar) as strings.
func texts(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		s, err := text(v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, err := text(e)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

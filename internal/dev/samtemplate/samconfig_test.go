package samtemplate

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The project's SAM CLI configuration, from this package's directory.
var samconfigPath = filepath.Join("..", "..", "..", "samconfig.toml")

// overridePattern is one Name=Value of parameter_overrides, the value
// optionally in double quotes, as the SAM CLI reads them.
var overridePattern = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

func parseOverrides(s string) map[string]string {
	out := map[string]string{}
	for _, m := range overridePattern.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if len(v) >= 2 && v[0] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
		}
		out[m[1]] = v
	}
	return out
}

func TestParseOverrides(t *testing.T) {
	got := parseOverrides(`AllowedAppIds="d1,d2" LogLevel=WARN Quoted="a \"b\""`)
	want := map[string]string{"AllowedAppIds": "d1,d2", "LogLevel": "WARN", "Quoted": `a "b"`}
	if len(got) != len(want) {
		t.Fatalf("parseOverrides = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseOverrides[%s] = %q; want %q", k, got[k], v)
		}
	}
}

// TestSamconfig checks that each environment of samconfig.toml deploys
// the template as intended: parameter values the template accepts, IAM
// capability, a change set to confirm, distinct stacks.
func TestSamconfig(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	out, err := exec.Command(python, "-c", "import json, sys, tomllib; json.dump(tomllib.load(open(sys.argv[1], 'rb')), sys.stdout)", samconfigPath).Output()
	if err != nil {
		t.Fatalf("read %s with tomllib: %v", samconfigPath, err)
	}
	type params map[string]any
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["version"] != 0.1 {
		t.Errorf("version = %v; want 0.1", cfg["version"])
	}
	section := func(env, cmd string) params {
		e, _ := cfg[env].(map[string]any)
		c, _ := e[cmd].(map[string]any)
		p, _ := c["parameters"].(map[string]any)
		return p
	}
	app := loadProjectTemplate(t)
	stacks := map[string]string{}
	for _, env := range []string{"default", "prod"} {
		deploy := section(env, "deploy")
		for key, want := range map[string]any{"capabilities": "CAPABILITY_IAM", "confirm_changeset": true, "resolve_s3": true} {
			if deploy[key] != want {
				t.Errorf("[%s.deploy.parameters] %s = %v; want %v", env, key, deploy[key], want)
			}
		}
		stack, _ := deploy["stack_name"].(string)
		if other, dup := stacks[stack]; dup || stack == "" {
			t.Errorf("[%s.deploy.parameters] stack_name %q (also %s's); want one stack per environment", env, stack, other)
		}
		stacks[stack] = env
		if deploy["region"] == nil {
			t.Errorf("[%s.deploy.parameters] has no region", env)
		}
		if section(env, "validate")["lint"] != true {
			t.Errorf("[%s.validate.parameters] lint is not true", env)
		}
		overrides := parseOverrides(deploy["parameter_overrides"].(string))
		if _, err := app.NewResolver(Facts{Parameters: overrides}); err != nil {
			t.Errorf("[%s.deploy.parameters] parameter_overrides: %v", env, err)
		}
		if env == "prod" {
			var unset []string
			for name := range app.Parameters {
				if _, ok := overrides[name]; !ok {
					unset = append(unset, name)
				}
			}
			sort.Strings(unset)
			if len(unset) > 0 {
				t.Errorf("[prod.deploy.parameters] leaves %v to the template's defaults; want every parameter spelled out", unset)
			}
		}
	}
	build := section("default", "build")
	if build["cached"] != true || build["parallel"] != true {
		t.Errorf("[default.build.parameters] = %v; want cached and parallel", build)
	}
}

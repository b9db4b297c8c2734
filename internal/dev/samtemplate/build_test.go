package samtemplate

import (
	"os/exec"
	"strings"
	"testing"
)

func TestGoPackage(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	// made is a function built by the Makefile of testdata/build.
	made := func(id string) Function {
		return Function{LogicalID: id, CodeDir: "testdata/build", BuildMethod: "makefile"}
	}
	tests := map[string]struct {
		fn      Function
		want    string
		wantErr string
	}{
		"go build in the recipe":           {fn: made("SubmitFunction"), want: "./functions/submit"},
		"make variable, continuation line": {fn: made("PollFunction"), want: "./functions/poll"},
		"recipe from a macro":              {fn: made("NotifyFunction"), want: "./functions/notify"},
		"package computed by make":         {fn: made("AnotherFunction"), want: "./functions/AnotherFunction"},
		"SAM's go builder":                 {fn: Function{LogicalID: "GoFunction", CodeDir: "functions/go", BuildMethod: "go1.x"}, want: "."},
		"no target":                        {fn: made("MissingFunction"), wantErr: "No rule to make target 'build-MissingFunction'"},
		"no go build":                      {fn: made("CopyFunction"), wantErr: "no go build command in the recipe"},
		"not a relative package":           {fn: made("AbsoluteFunction"), wantErr: "does not end with a relative package path"},
		"no Makefile": {
			fn:      Function{LogicalID: "SubmitFunction", CodeDir: "testdata", BuildMethod: "makefile"},
			wantErr: "no such file",
		},
		"other build method": {
			fn:      Function{LogicalID: "NodeFunction", CodeDir: ".", BuildMethod: "esbuild"},
			wantErr: `BuildMethod "esbuild"; want makefile or go1.x`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.fn.GoPackage()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("GoPackage() = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("GoPackage() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// State preloads apps and their backend environments (the --state file).
type State struct {
	Apps []StateApp `json:"apps"`
}

// StateApp is one app of a State.
type StateApp struct {
	AppId        string   `json:"appId"`
	AppName      string   `json:"appName"`
	Environments []string `json:"environments"`
	// APIs preloads GraphQL API resources: environment name -> API
	// resource names, so UpdateBackendAPI and GenerateBackendAPIModels
	// work on a fresh emulator.
	APIs map[string][]string `json:"apis,omitempty"`
}

// LoadState reads a state file.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	s, err := ParseState(b)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// ParseState reads a state document strictly: unknown members, empty or
// repeated ids and names are errors.
func ParseState(b []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	seen := map[string]bool{}
	for i, a := range s.Apps {
		if a.AppId == "" {
			return nil, fmt.Errorf("apps[%d]: appId is empty", i)
		}
		if seen[a.AppId] {
			return nil, fmt.Errorf("apps[%d]: appId %s appears twice", i, a.AppId)
		}
		seen[a.AppId] = true
		for k, env := range a.Environments {
			if env == "" {
				return nil, fmt.Errorf("apps[%d].environments[%d] is empty", i, k)
			}
			if slices.Index(a.Environments, env) != k {
				return nil, fmt.Errorf("apps[%d]: environment %s appears twice", i, env)
			}
		}
		for env, names := range a.APIs {
			if !slices.Contains(a.Environments, env) {
				return nil, fmt.Errorf("apps[%d].apis: environment %s is not in environments", i, env)
			}
			for _, name := range names {
				if name == "" {
					return nil, fmt.Errorf("apps[%d].apis[%s]: an API name is empty", i, env)
				}
			}
		}
	}
	return &s, nil
}

// load builds the app a state entry describes.
func (sa StateApp) load() *app {
	a := newApp(sa.AppId, sa.AppName)
	for _, env := range sa.Environments {
		a.envs[env] = newEnvironment()
		for _, name := range sa.APIs[env] {
			apiName := name
			a.envs[env].apis[name] = &apiResource{config: &types.BackendAPIResourceConfig{ApiName: &apiName}}
		}
	}
	return a
}

// app is an Amplify app with its backend.
type app struct {
	id, name string
	envs     map[string]*environment
	config   *backendConfig // nil until CreateBackendConfig
	tokens   map[string]*token
}

func newApp(id, name string) *app {
	return &app{id: id, name: name, envs: map[string]*environment{}, tokens: map[string]*token{}}
}

// backendConfig is what Create/UpdateBackendConfig wrote.
type backendConfig struct {
	backendManagerAppID string
	loginAuth           *types.LoginAuthConfigReqObj
}

// token is an Admin UI login challenge (CreateToken).
type token struct {
	sessionID, challengeCode, ttl string
}

// environment is a backend environment and its resources, by resource name.
type environment struct {
	auth    map[string]*types.CreateBackendAuthResourceConfig
	apis    map[string]*apiResource
	storage map[string]*types.GetBackendStorageResourceConfig
}

func newEnvironment() *environment {
	return &environment{
		auth:    map[string]*types.CreateBackendAuthResourceConfig{},
		apis:    map[string]*apiResource{},
		storage: map[string]*types.GetBackendStorageResourceConfig{},
	}
}

// apiResource is a GraphQL API and its generated models.
type apiResource struct {
	config *types.BackendAPIResourceConfig
	// models is "" until GenerateBackendAPIModels ran; stale says the API
	// changed since.
	models, introspection string
	stale                 bool
}

// clone copies the environment deeply, as CloneBackend does.
func (e *environment) clone() *environment {
	c := newEnvironment()
	for n, r := range e.auth {
		c.auth[n] = deepCopy(r)
	}
	for n, r := range e.apis {
		cp := *r
		cp.config = deepCopy(r.config)
		c.apis[n] = &cp
	}
	for n, r := range e.storage {
		c.storage[n] = deepCopy(r)
	}
	return c
}

// deepCopy copies a model shape through its JSON form, which holds all of it.
func deepCopy[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("emulator: copy %T: %v", v, err)) // model shapes always marshal
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("emulator: copy %T: %v", v, err))
	}
	return out
}

// mergeInto applies the members set in patch onto dst, recursing into
// objects, the way an Update* request changes what Create* stored. Both go
// through their wire-name JSON, which the Create and Update shapes share
// (userPoolConfigs.mfa.MFAMode is the same member in both).
func mergeInto[T any](dst *T, patch any) {
	var base, over map[string]any
	if err := roundTrip(dst, &base); err != nil {
		panic(fmt.Sprintf("emulator: merge into %T: %v", dst, err))
	}
	if err := roundTrip(patch, &over); err != nil {
		panic(fmt.Sprintf("emulator: merge %T: %v", patch, err))
	}
	mergeMaps(base, over)
	var merged T
	if err := roundTrip(base, &merged); err != nil {
		panic(fmt.Sprintf("emulator: merge into %T: %v", dst, err))
	}
	*dst = merged
}

func roundTrip(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func mergeMaps(base, over map[string]any) {
	for k, v := range over {
		if sub, ok := v.(map[string]any); ok {
			if cur, ok := base[k].(map[string]any); ok {
				mergeMaps(cur, sub)
				continue
			}
		}
		base[k] = v
	}
}

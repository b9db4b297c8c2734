package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// handlerFunc runs one operation on a decoded, validated input, with e.mu
// held.
type handlerFunc func(e *Emulator, in any) (any, *apiError)

func handle[In, Out any](f func(*Emulator, *In) (*Out, *apiError)) handlerFunc {
	return func(e *Emulator, in any) (any, *apiError) {
		out, err := f(e, in.(*In))
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// handlers has one entry per operation of the model; a test checks that
// none is missing.
var handlers = map[string]handlerFunc{
	"CloneBackend":             handle((*Emulator).cloneBackend),
	"CreateBackend":            handle((*Emulator).createBackend),
	"CreateBackendAPI":         handle((*Emulator).createBackendAPI),
	"CreateBackendAuth":        handle((*Emulator).createBackendAuth),
	"CreateBackendConfig":      handle((*Emulator).createBackendConfig),
	"CreateBackendStorage":     handle((*Emulator).createBackendStorage),
	"CreateToken":              handle((*Emulator).createToken),
	"DeleteBackend":            handle((*Emulator).deleteBackend),
	"DeleteBackendAPI":         handle((*Emulator).deleteBackendAPI),
	"DeleteBackendAuth":        handle((*Emulator).deleteBackendAuth),
	"DeleteBackendStorage":     handle((*Emulator).deleteBackendStorage),
	"DeleteToken":              handle((*Emulator).deleteToken),
	"GenerateBackendAPIModels": handle((*Emulator).generateBackendAPIModels),
	"GetBackend":               handle((*Emulator).getBackend),
	"GetBackendAPI":            handle((*Emulator).getBackendAPI),
	"GetBackendAPIModels":      handle((*Emulator).getBackendAPIModels),
	"GetBackendAuth":           handle((*Emulator).getBackendAuth),
	"GetBackendJob":            handle((*Emulator).getBackendJob),
	"GetBackendStorage":        handle((*Emulator).getBackendStorage),
	"GetToken":                 handle((*Emulator).getToken),
	"ImportBackendAuth":        handle((*Emulator).importBackendAuth),
	"ImportBackendStorage":     handle((*Emulator).importBackendStorage),
	"ListBackendJobs":          handle((*Emulator).listBackendJobs),
	"ListS3Buckets":            handle((*Emulator).listS3Buckets),
	"RemoveAllBackends":        handle((*Emulator).removeAllBackends),
	"RemoveBackendConfig":      handle((*Emulator).removeBackendConfig),
	"UpdateBackendAPI":         handle((*Emulator).updateBackendAPI),
	"UpdateBackendAuth":        handle((*Emulator).updateBackendAuth),
	"UpdateBackendConfig":      handle((*Emulator).updateBackendConfig),
	"UpdateBackendJob":         handle((*Emulator).updateBackendJob),
	"UpdateBackendStorage":     handle((*Emulator).updateBackendStorage),
}

// --- lookups -------------------------------------------------------------

func (e *Emulator) app(appID string) (*app, *apiError) {
	a := e.apps[appID]
	if a == nil {
		return nil, notFound(resApp, "There is no app with appId %s", appID)
	}
	return a, nil
}

// held looks name up among what app appID holds by name (environments,
// sessions); missing is the error when there is none.
func held[T any](e *Emulator, appID, name string, in func(*app) map[string]*T, missing func() *apiError) (*app, *T, *apiError) {
	a, err := e.app(appID)
	if err != nil {
		return nil, nil, err
	}
	v := in(a)[name]
	if v == nil {
		return nil, nil, missing()
	}
	return a, v, nil
}

func (e *Emulator) env(appID, name string) (*app, *environment, *apiError) {
	return held(e, appID, name, func(a *app) map[string]*environment { return a.envs }, func() *apiError {
		return notFound(resEnvironment, "There is no backend environment %s for appId %s", name, appID)
	})
}

// kind is a kind of environment resource: the resourceType a
// NotFoundException names and where an environment keeps them by name.
type kind[T any] struct {
	resourceType string
	in           func(*environment) map[string]T
}

var (
	authKind = kind[*types.CreateBackendAuthResourceConfig]{resAuth,
		func(env *environment) map[string]*types.CreateBackendAuthResourceConfig { return env.auth }}
	apiKind     = kind[*apiResource]{resAPI, func(env *environment) map[string]*apiResource { return env.apis }}
	storageKind = kind[*types.GetBackendStorageResourceConfig]{resStorage,
		func(env *environment) map[string]*types.GetBackendStorageResourceConfig { return env.storage }}
)

// find returns the resource name of env (named envName), or NotFound.
func (k kind[T]) find(env *environment, envName, name string) (T, *apiError) {
	r, ok := k.in(env)[name]
	if !ok {
		return r, notFound(k.resourceType, "There is no %s resource %s in backend environment %s", k.resourceType, name, envName)
	}
	return r, nil
}

// get looks a resource up for a Get* operation.
func (k kind[T]) get(e *Emulator, appID, envName, name string) (T, *apiError) {
	_, env, err := e.env(appID, envName)
	if err != nil {
		var none T
		return none, err
	}
	return k.find(env, envName, name)
}

// getResource answers a Get* operation on a resource. The outputs of
// GetBackendAuth, GetBackendAPI and GetBackendStorage share the wire
// names; config picks what a resource reports as its resourceConfig.
func getResource[Out, T any](e *Emulator, k kind[T], appID, envName, name string, config func(T) any) (*Out, *apiError) {
	r, err := k.get(e, appID, envName, name)
	if err != nil {
		return nil, err
	}
	wire := struct {
		AppId                  string `json:"appId"`
		BackendEnvironmentName string `json:"backendEnvironmentName"`
		ResourceName           string `json:"resourceName"`
		ResourceConfig         any    `json:"resourceConfig"`
	}{appID, envName, name, config(r)}
	out := new(Out) // a copy: the caller may not change the state through it
	if err := roundTrip(wire, out); err != nil {
		panic(fmt.Sprintf("emulator: resource output %T: %v", out, err)) // the shapes have these members
	}
	return out, nil
}

// resourceJob runs a job-starting operation on an existing resource
// (Update*, Delete*, GenerateBackendAPIModels): NotFound when it does not
// exist, change once the job is accepted.
func resourceJob[Out, T any](e *Emulator, k kind[T], appID, envName, op, name string, change func(env *environment, r T)) (*Out, *apiError) {
	var r T
	return envJob[Out](e, appID, envName, op,
		func(env *environment) (err *apiError) {
			r, err = k.find(env, envName, name)
			return err
		},
		func(env *environment) { change(env, r) })
}

// deleteJob runs a Delete* operation: the resource goes when the job is
// accepted.
func deleteJob[Out, T any](e *Emulator, k kind[T], appID, envName, op, name string) (*Out, *apiError) {
	return resourceJob[Out](e, k, appID, envName, op, name, func(env *environment, _ T) { delete(k.in(env), name) })
}

// --- jobs ----------------------------------------------------------------

// startJob creates a job of op on app and env ("" for app-wide), or
// refuses it while another job runs there.
func (e *Emulator) startJob(appID, env, op string) (Job, *apiError) {
	job, err := e.jobs.Create(appID, env, op)
	if err != nil {
		return Job{}, e.pendingError(err)
	}
	return job, nil
}

// canStart refuses early, before checks that would otherwise answer
// first, a job that startJob would refuse.
func (e *Emulator) canStart(appID, env string) *apiError {
	if err := e.jobs.CanStart(appID, env); err != nil {
		return e.pendingError(err)
	}
	return nil
}

// envJob is the shape of the operations that start a job on an existing
// environment: check may refuse first (a resource that must exist), and
// change applies once the job is accepted. It returns the output.
func envJob[Out any](e *Emulator, appID, envName, op string, check func(*environment) *apiError, change func(*environment)) (*Out, *apiError) {
	_, env, err := e.env(appID, envName)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(env); err != nil {
			return nil, err
		}
	}
	job, err := e.startJob(appID, envName, op)
	if err != nil {
		return nil, err
	}
	change(env)
	return jobOutput[Out](job, envName), nil
}

// appJob is the shape of the operations that start an app-wide job:
// change applies once the job is accepted.
func appJob[Out any](e *Emulator, appID, op string, change func(*app)) (*Out, *apiError) {
	a, err := e.app(appID)
	if err != nil {
		return nil, err
	}
	job, err := e.startJob(a.id, "", op)
	if err != nil {
		return nil, err
	}
	change(a)
	return jobOutput[Out](job, ""), nil
}

func (e *Emulator) pendingError(err error) *apiError {
	var pe *PendingJobError
	if !errors.As(err, &pe) {
		return &apiError{status: http.StatusInternalServerError, code: "InternalFailure", message: "create job: " + err.Error()}
	}
	return &apiError{status: http.StatusBadRequest, code: e.faults.pendingCode(), message: pe.Error()}
}

// timeLayout is ISO 8601 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// jobOutput fills an output shape with a job's members: the outputs that
// carry a job (CloneBackendOutput, GetBackendJobOutput, BackendJobRespObj,
// ...) share the wire names, and members a shape lacks are dropped. env is
// the environment the request named, reported for app-wide jobs.
func jobOutput[T any](j Job, env string) *T {
	wire := struct {
		AppId                  string `json:"appId"`
		BackendEnvironmentName string `json:"backendEnvironmentName,omitempty"`
		CreateTime             string `json:"createTime"`
		Error                  string `json:"error,omitempty"`
		JobId                  string `json:"jobId"`
		Operation              string `json:"operation"`
		Status                 string `json:"status"`
		UpdateTime             string `json:"updateTime"`
	}{
		j.AppId, cmp.Or(j.BackendEnvironmentName, env), j.CreateTime.UTC().Format(timeLayout), j.Error,
		j.JobId, j.Operation, j.Status, j.UpdateTime.UTC().Format(timeLayout),
	}
	out := new(T)
	if err := roundTrip(wire, out); err != nil {
		panic(fmt.Sprintf("emulator: job output %T: %v", out, err)) // the shapes have these members as strings
	}
	return out
}

// pageToken is the opaque nextToken: base64 of the listing it belongs to
// and where the next page starts.
type pageToken struct {
	Version int    `json:"v"`
	Listing string `json:"listing"`
	Cursor  uint64 `json:"cursor"`
}

func encodePageToken(listing string, cursor uint64) *string {
	b, _ := json.Marshal(pageToken{Version: 1, Listing: listing, Cursor: cursor}) // plain struct: cannot fail
	return aws.String(base64.RawURLEncoding.EncodeToString(b))
}

func decodePageToken(s, listing string) (uint64, *apiError) {
	invalid := badRequest("Invalid nextToken: pass the nextToken of the previous page of the same listing")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, invalid
	}
	var t pageToken
	if json.Unmarshal(b, &t) != nil || t.Version != 1 || t.Listing != listing || t.Cursor == 0 {
		return 0, invalid
	}
	return t.Cursor, nil
}

// defaultMaxResults is the page size of ListBackendJobs without maxResults.
const defaultMaxResults = 25

func (e *Emulator) listBackendJobs(in *amplify.ListBackendJobsInput) (*amplify.ListBackendJobsOutput, *apiError) {
	appID, env := *in.AppId, *in.BackendEnvironmentName
	// Jobs outlive their environment (DeleteBackend's job must stay
	// readable), so only an environment that never had one is unknown.
	if _, _, err := e.env(appID, env); err != nil && !e.jobs.Has(appID, env) {
		return nil, err
	}
	listing := "jobs/" + appID + "/" + env
	var before uint64
	if in.NextToken != nil {
		var err *apiError
		if before, err = decodePageToken(*in.NextToken, listing); err != nil {
			return nil, err
		}
	}
	limit := defaultMaxResults
	if in.MaxResults != nil {
		limit = int(*in.MaxResults) // in range: decodeInput checked it
	}
	filter := JobFilter{JobId: aws.ToString(in.JobId), Operation: aws.ToString(in.Operation), Status: aws.ToString(in.Status)}
	jobs, more := e.jobs.List(appID, env, filter, before, limit)
	out := &amplify.ListBackendJobsOutput{Jobs: []types.BackendJobRespObj{}}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, *jobOutput[types.BackendJobRespObj](j, env))
	}
	if more {
		out.NextToken = encodePageToken(listing, jobs[len(jobs)-1].Seq)
	}
	return out, nil
}

func (e *Emulator) getBackendJob(in *amplify.GetBackendJobInput) (*amplify.GetBackendJobOutput, *apiError) {
	appID, env, jobID := *in.AppId, *in.BackendEnvironmentName, *in.JobId
	job, ok := e.jobs.Get(appID, env, jobID)
	// Right after creation the service may not know the job yet.
	if !ok || e.clock.Now().Sub(job.CreateTime) < e.faults.NotFoundWindow {
		return nil, notFound(resJob, "There is no job %s for appId %s and backendEnvironmentName %s", jobID, appID, env)
	}
	return jobOutput[amplify.GetBackendJobOutput](job, env), nil
}

func (e *Emulator) updateBackendJob(in *amplify.UpdateBackendJobInput) (*amplify.UpdateBackendJobOutput, *apiError) {
	appID, env, jobID := *in.AppId, *in.BackendEnvironmentName, *in.JobId
	job, err := e.jobs.Update(appID, env, jobID, JobUpdate{Operation: aws.ToString(in.Operation), Status: aws.ToString(in.Status)})
	var ended *JobEndedError
	switch {
	case errors.Is(err, ErrNoSuchJob):
		return nil, notFound(resJob, "There is no job %s for appId %s and backendEnvironmentName %s", jobID, appID, env)
	case errors.As(err, &ended):
		return nil, badRequest("Job %s has already ended with status %s: its status cannot change", jobID, ended.Status)
	case err != nil:
		return nil, badRequest("%v", err)
	}
	return jobOutput[amplify.UpdateBackendJobOutput](job, env), nil
}

// --- backends and environments -------------------------------------------

func (e *Emulator) createBackend(in *amplify.CreateBackendInput) (*amplify.CreateBackendOutput, *apiError) {
	appID, envName := *in.AppId, *in.BackendEnvironmentName
	a := e.apps[appID]
	if a != nil && a.envs[envName] != nil {
		if err := e.canStart(appID, envName); err != nil {
			return nil, err
		}
		return nil, badRequest("Backend environment %s already exists for appId %s", envName, appID)
	}
	job, err := e.startJob(appID, envName, "CreateBackend")
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = newApp(appID, *in.AppName)
		e.apps[appID] = a
	}
	a.envs[envName] = newEnvironment()
	return jobOutput[amplify.CreateBackendOutput](job, envName), nil
}

func (e *Emulator) cloneBackend(in *amplify.CloneBackendInput) (*amplify.CloneBackendOutput, *apiError) {
	a, src, err := e.env(*in.AppId, *in.BackendEnvironmentName)
	if err != nil {
		return nil, err
	}
	envName, target := *in.BackendEnvironmentName, *in.TargetEnvironmentName
	if err := e.canStart(a.id, envName); err != nil {
		return nil, err
	}
	if a.envs[target] != nil {
		return nil, badRequest("Backend environment %s already exists for appId %s", target, a.id)
	}
	job, err := e.startJob(a.id, envName, "CloneBackend")
	if err != nil {
		return nil, err
	}
	a.envs[target] = src.clone()
	return jobOutput[amplify.CloneBackendOutput](job, envName), nil
}

func (e *Emulator) deleteBackend(in *amplify.DeleteBackendInput) (*amplify.DeleteBackendOutput, *apiError) {
	a, _, err := e.env(*in.AppId, *in.BackendEnvironmentName)
	if err != nil {
		return nil, err
	}
	envName := *in.BackendEnvironmentName
	job, err := e.startJob(a.id, envName, "DeleteBackend")
	if err != nil {
		return nil, err
	}
	delete(a.envs, envName)
	return jobOutput[amplify.DeleteBackendOutput](job, envName), nil
}

// removeAllBackends runs one app-wide job: it waits for all of the app's
// environments and blocks them until it ends (see the package doc).
func (e *Emulator) removeAllBackends(in *amplify.RemoveAllBackendsInput) (*amplify.RemoveAllBackendsOutput, *apiError) {
	return appJob[amplify.RemoveAllBackendsOutput](e, *in.AppId, "RemoveAllBackends", func(a *app) {
		clear(a.envs)
		if aws.ToBool(in.CleanAmplifyApp) {
			delete(e.apps, a.id)
		}
	})
}

// featureFlags is the amplifyFeatureFlags document GetBackend returns.
const featureFlags = `{"project":{"overrides":true},"graphqltransformer":{"transformerversion":2,"useexperimentalpipelinedtransformer":true}}`

func (e *Emulator) getBackend(in *amplify.GetBackendInput) (*amplify.GetBackendOutput, *apiError) {
	a, err := e.app(*in.AppId)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(a.envs))
	out := &amplify.GetBackendOutput{AppId: aws.String(a.id), AppName: aws.String(a.name), BackendEnvironmentList: names}
	envName := aws.ToString(in.BackendEnvironmentName)
	if envName == "" && len(names) > 0 {
		envName = names[0]
	}
	if envName == "" {
		return out, nil
	}
	env := a.envs[envName]
	if env == nil {
		return nil, notFound(resEnvironment, "There is no backend environment %s for appId %s", envName, a.id)
	}
	out.BackendEnvironmentName = aws.String(envName)
	out.AmplifyMetaConfig = aws.String(env.meta())
	out.AmplifyFeatureFlags = aws.String(featureFlags)
	return out, nil
}

// meta renders the environment's resources as an amplify-meta.json
// document, the shape GetBackend's amplifyMetaConfig carries.
func (env *environment) meta() string {
	doc := map[string]map[string]any{"auth": {}, "api": {}, "storage": {}}
	for name := range env.auth {
		doc["auth"][name] = map[string]string{"service": "Cognito", "providerPlugin": "awscloudformation"}
	}
	for name := range env.apis {
		doc["api"][name] = map[string]string{"service": "AppSync", "providerPlugin": "awscloudformation"}
	}
	for name, s := range env.storage {
		doc["storage"][name] = map[string]string{"service": "S3", "providerPlugin": "awscloudformation",
			"bucketName": aws.ToString(s.BucketName)}
	}
	b, _ := json.Marshal(doc) // maps of strings: cannot fail
	return string(b)
}

// --- auth ----------------------------------------------------------------

func (e *Emulator) createBackendAuth(in *amplify.CreateBackendAuthInput) (*amplify.CreateBackendAuthOutput, *apiError) {
	return envJob[amplify.CreateBackendAuthOutput](e, *in.AppId, *in.BackendEnvironmentName, "CreateBackendAuth", nil,
		func(env *environment) { env.auth[*in.ResourceName] = deepCopy(in.ResourceConfig) })
}

func (e *Emulator) updateBackendAuth(in *amplify.UpdateBackendAuthInput) (*amplify.UpdateBackendAuthOutput, *apiError) {
	return resourceJob[amplify.UpdateBackendAuthOutput](e, authKind, *in.AppId, *in.BackendEnvironmentName, "UpdateBackendAuth", *in.ResourceName,
		func(_ *environment, cfg *types.CreateBackendAuthResourceConfig) { mergeInto(cfg, in.ResourceConfig) })
}

// importBackendAuth stores the imported user pool as an auth resource
// named after the user pool id: the input names no resource.
func (e *Emulator) importBackendAuth(in *amplify.ImportBackendAuthInput) (*amplify.ImportBackendAuthOutput, *apiError) {
	return envJob[amplify.ImportBackendAuthOutput](e, *in.AppId, *in.BackendEnvironmentName, "ImportBackendAuth", nil,
		func(env *environment) {
			cfg := &types.CreateBackendAuthResourceConfig{
				AuthResources:   types.AuthResourcesUserPoolOnly,
				Service:         types.ServiceCognito,
				UserPoolConfigs: &types.CreateBackendAuthUserPoolConfig{UserPoolName: aws.String(*in.UserPoolId)},
			}
			if in.IdentityPoolId != nil {
				cfg.AuthResources = types.AuthResourcesIdentityPoolAndUserPool
				cfg.IdentityPoolConfigs = &types.CreateBackendAuthIdentityPoolConfig{IdentityPoolName: aws.String(*in.IdentityPoolId)}
			}
			env.auth[*in.UserPoolId] = cfg
		})
}

func (e *Emulator) deleteBackendAuth(in *amplify.DeleteBackendAuthInput) (*amplify.DeleteBackendAuthOutput, *apiError) {
	return deleteJob[amplify.DeleteBackendAuthOutput](e, authKind, *in.AppId, *in.BackendEnvironmentName, "DeleteBackendAuth", *in.ResourceName)
}

func (e *Emulator) getBackendAuth(in *amplify.GetBackendAuthInput) (*amplify.GetBackendAuthOutput, *apiError) {
	return getResource[amplify.GetBackendAuthOutput](e, authKind, *in.AppId, *in.BackendEnvironmentName, *in.ResourceName,
		func(cfg *types.CreateBackendAuthResourceConfig) any { return cfg })
}

// --- API -----------------------------------------------------------------

func (e *Emulator) createBackendAPI(in *amplify.CreateBackendAPIInput) (*amplify.CreateBackendAPIOutput, *apiError) {
	return envJob[amplify.CreateBackendAPIOutput](e, *in.AppId, *in.BackendEnvironmentName, "CreateBackendAPI", nil,
		func(env *environment) { env.apis[*in.ResourceName] = &apiResource{config: deepCopy(in.ResourceConfig)} })
}

func (e *Emulator) updateBackendAPI(in *amplify.UpdateBackendAPIInput) (*amplify.UpdateBackendAPIOutput, *apiError) {
	return resourceJob[amplify.UpdateBackendAPIOutput](e, apiKind, *in.AppId, *in.BackendEnvironmentName, "UpdateBackendAPI", *in.ResourceName,
		func(_ *environment, api *apiResource) {
			if in.ResourceConfig != nil {
				mergeInto(api.config, in.ResourceConfig)
				api.stale = api.models != ""
			}
		})
}

func (e *Emulator) deleteBackendAPI(in *amplify.DeleteBackendAPIInput) (*amplify.DeleteBackendAPIOutput, *apiError) {
	return deleteJob[amplify.DeleteBackendAPIOutput](e, apiKind, *in.AppId, *in.BackendEnvironmentName, "DeleteBackendAPI", *in.ResourceName)
}

func (e *Emulator) getBackendAPI(in *amplify.GetBackendAPIInput) (*amplify.GetBackendAPIOutput, *apiError) {
	return getResource[amplify.GetBackendAPIOutput](e, apiKind, *in.AppId, *in.BackendEnvironmentName, *in.ResourceName,
		func(api *apiResource) any { return api.config })
}

// generateBackendAPIModels "generates" models from the API's schema: the
// text is made up, what matters is that GetBackendAPIModels reflects it.
func (e *Emulator) generateBackendAPIModels(in *amplify.GenerateBackendAPIModelsInput) (*amplify.GenerateBackendAPIModelsOutput, *apiError) {
	return resourceJob[amplify.GenerateBackendAPIModelsOutput](e, apiKind, *in.AppId, *in.BackendEnvironmentName, "GenerateBackendAPIModels", *in.ResourceName,
		func(_ *environment, api *apiResource) {
			schema := aws.ToString(api.config.TransformSchema)
			api.models = "// Generated by the Amplify Admin API emulator from the schema of " + *in.ResourceName + "\n" + schema
			api.introspection = fmt.Sprintf(`{"version":1,"models":{},"schemaLength":%d}`, len(schema))
			api.stale = false
		})
}

func (e *Emulator) getBackendAPIModels(in *amplify.GetBackendAPIModelsInput) (*amplify.GetBackendAPIModelsOutput, *apiError) {
	api, err := apiKind.get(e, *in.AppId, *in.BackendEnvironmentName, *in.ResourceName)
	if err != nil {
		return nil, err
	}
	if api.models == "" {
		return &amplify.GetBackendAPIModelsOutput{Status: types.StatusStale}, nil
	}
	out := &amplify.GetBackendAPIModelsOutput{Models: aws.String(api.models),
		ModelIntrospectionSchema: aws.String(api.introspection), Status: types.StatusLatest}
	if api.stale {
		out.Status = types.StatusStale
	}
	return out, nil
}

// --- storage -------------------------------------------------------------

func (e *Emulator) createBackendStorage(in *amplify.CreateBackendStorageInput) (*amplify.CreateBackendStorageOutput, *apiError) {
	appID, envName, name := *in.AppId, *in.BackendEnvironmentName, *in.ResourceName
	return envJob[amplify.CreateBackendStorageOutput](e, appID, envName, "CreateBackendStorage", nil,
		func(env *environment) {
			rc := in.ResourceConfig
			bucket := aws.ToString(rc.BucketName)
			if bucket == "" {
				bucket = strings.ToLower(fmt.Sprintf("amplify-%s-%s-%s", appID, envName, name))
			}
			env.storage[name] = &types.GetBackendStorageResourceConfig{BucketName: aws.String(bucket),
				Imported: aws.Bool(false), Permissions: deepCopy(rc.Permissions), ServiceName: rc.ServiceName}
		})
}

// importedStorageName names an imported bucket's resource: the input
// names none, so the bucket's name stands in.
func importedStorageName(bucket *string) string { return cmp.Or(aws.ToString(bucket), "s3storage") }

func (e *Emulator) importBackendStorage(in *amplify.ImportBackendStorageInput) (*amplify.ImportBackendStorageOutput, *apiError) {
	return envJob[amplify.ImportBackendStorageOutput](e, *in.AppId, *in.BackendEnvironmentName, "ImportBackendStorage", nil,
		func(env *environment) {
			env.storage[importedStorageName(in.BucketName)] = &types.GetBackendStorageResourceConfig{
				BucketName: in.BucketName, Imported: aws.Bool(true), ServiceName: in.ServiceName}
		})
}

func (e *Emulator) updateBackendStorage(in *amplify.UpdateBackendStorageInput) (*amplify.UpdateBackendStorageOutput, *apiError) {
	return resourceJob[amplify.UpdateBackendStorageOutput](e, storageKind, *in.AppId, *in.BackendEnvironmentName, "UpdateBackendStorage", *in.ResourceName,
		func(_ *environment, cfg *types.GetBackendStorageResourceConfig) { mergeInto(cfg, in.ResourceConfig) })
}

func (e *Emulator) deleteBackendStorage(in *amplify.DeleteBackendStorageInput) (*amplify.DeleteBackendStorageOutput, *apiError) {
	return deleteJob[amplify.DeleteBackendStorageOutput](e, storageKind, *in.AppId, *in.BackendEnvironmentName, "DeleteBackendStorage", *in.ResourceName)
}

func (e *Emulator) getBackendStorage(in *amplify.GetBackendStorageInput) (*amplify.GetBackendStorageOutput, *apiError) {
	return getResource[amplify.GetBackendStorageOutput](e, storageKind, *in.AppId, *in.BackendEnvironmentName, *in.ResourceName,
		func(cfg *types.GetBackendStorageResourceConfig) any { return cfg })
}

// s3Buckets are the account's buckets ListS3Buckets pages through,
// s3PageSize at a time.
var s3Buckets = []types.S3BucketInfo{
	{Name: aws.String("amplify-demo-dev-deployment"), CreationDate: aws.String("2024-03-01T09:15:00.000Z")},
	{Name: aws.String("amplify-demo-staging-deployment"), CreationDate: aws.String("2024-03-02T10:20:00.000Z")},
	{Name: aws.String("demo-user-uploads"), CreationDate: aws.String("2024-04-11T14:05:00.000Z")},
	{Name: aws.String("demo-static-assets"), CreationDate: aws.String("2024-05-20T08:45:00.000Z")},
	{Name: aws.String("demo-logs-archive"), CreationDate: aws.String("2024-06-30T23:59:00.000Z")},
}

const s3PageSize = 2

func (e *Emulator) listS3Buckets(in *amplify.ListS3BucketsInput) (*amplify.ListS3BucketsOutput, *apiError) {
	start := 0
	if in.NextToken != nil {
		cursor, err := decodePageToken(*in.NextToken, "s3")
		if err != nil || cursor >= uint64(len(s3Buckets)) {
			return nil, badRequest("Invalid nextToken: pass the nextToken of the previous page")
		}
		start = int(cursor)
	}
	end := min(start+s3PageSize, len(s3Buckets))
	out := &amplify.ListS3BucketsOutput{Buckets: slices.Clone(s3Buckets[start:end])}
	if end < len(s3Buckets) {
		out.NextToken = encodePageToken("s3", uint64(end))
	}
	return out, nil
}

// --- backend config ------------------------------------------------------

// createBackendConfig runs an app-wide job, like RemoveAllBackends: the
// configuration belongs to the app, not to an environment.
func (e *Emulator) createBackendConfig(in *amplify.CreateBackendConfigInput) (*amplify.CreateBackendConfigOutput, *apiError) {
	return appJob[amplify.CreateBackendConfigOutput](e, *in.AppId, "CreateBackendConfig", func(a *app) {
		if a.config == nil {
			a.config = &backendConfig{}
		}
		a.config.backendManagerAppID = cmp.Or(aws.ToString(in.BackendManagerAppId), a.id)
	})
}

func (e *Emulator) config(appID string) (*app, *apiError) {
	a, err := e.app(appID)
	if err != nil {
		return nil, err
	}
	if a.config == nil {
		return nil, notFound(resConfig, "There is no backend config for appId %s: call CreateBackendConfig first", appID)
	}
	return a, nil
}

func (e *Emulator) updateBackendConfig(in *amplify.UpdateBackendConfigInput) (*amplify.UpdateBackendConfigOutput, *apiError) {
	a, err := e.config(*in.AppId)
	if err != nil {
		return nil, err
	}
	if in.LoginAuthConfig != nil {
		if a.config.loginAuth == nil {
			a.config.loginAuth = &types.LoginAuthConfigReqObj{}
		}
		mergeInto(a.config.loginAuth, in.LoginAuthConfig)
	}
	return &amplify.UpdateBackendConfigOutput{AppId: aws.String(a.id),
		BackendManagerAppId: aws.String(a.config.backendManagerAppID), LoginAuthConfig: deepCopy(a.config.loginAuth)}, nil
}

func (e *Emulator) removeBackendConfig(in *amplify.RemoveBackendConfigInput) (*amplify.RemoveBackendConfigOutput, *apiError) {
	a, err := e.config(*in.AppId)
	if err != nil {
		return nil, err
	}
	a.config = nil
	return &amplify.RemoveBackendConfigOutput{}, nil
}

// --- tokens --------------------------------------------------------------

// tokenTTL is the challenge's time to live, in seconds, as the service
// reports it.
const tokenTTL = "3600"

func (e *Emulator) createToken(in *amplify.CreateTokenInput) (*amplify.CreateTokenOutput, *apiError) {
	a, err := e.app(*in.AppId)
	if err != nil {
		return nil, err
	}
	t := &token{sessionID: newUUID(e.rand), challengeCode: fmt.Sprintf("%06d", e.rand.IntN(1_000_000)), ttl: tokenTTL}
	a.tokens[t.sessionID] = t
	return &amplify.CreateTokenOutput{AppId: aws.String(a.id), SessionId: aws.String(t.sessionID),
		ChallengeCode: aws.String(t.challengeCode), Ttl: aws.String(t.ttl)}, nil
}

func (e *Emulator) token(appID, sessionID string) (*app, *token, *apiError) {
	return held(e, appID, sessionID, func(a *app) map[string]*token { return a.tokens }, func() *apiError {
		return notFound(resToken, "There is no session %s for appId %s", sessionID, appID)
	})
}

func (e *Emulator) getToken(in *amplify.GetTokenInput) (*amplify.GetTokenOutput, *apiError) {
	a, t, err := e.token(*in.AppId, *in.SessionId)
	if err != nil {
		return nil, err
	}
	return &amplify.GetTokenOutput{AppId: aws.String(a.id), SessionId: aws.String(t.sessionID),
		ChallengeCode: aws.String(t.challengeCode), Ttl: aws.String(t.ttl)}, nil
}

func (e *Emulator) deleteToken(in *amplify.DeleteTokenInput) (*amplify.DeleteTokenOutput, *apiError) {
	a, t, err := e.token(*in.AppId, *in.SessionId)
	if err != nil {
		return nil, err
	}
	delete(a.tokens, t.sessionID)
	return &amplify.DeleteTokenOutput{IsSuccess: aws.Bool(true)}, nil
}

# jobwatch — see README.md. `make demo` runs the main job locally, `make test`
# runs every test.

GO            ?= go
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BIN           := bin

# The Lambda functions: a bootstrap per function for provided.al2023 on
# arm64. `sam build` runs build-<LogicalId> with ARTIFACTS_DIR set
# (Metadata: BuildMethod: makefile); `make build` puts them under bin/lambda.
LAMBDA_ARCH   ?= arm64
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags="-s -w"
define build-function
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(or $(ARTIFACTS_DIR),$(BIN)/lambda/$(1))/bootstrap ./functions/$(2)
endef

.PHONY: all test vet template-lint unit lint build cli lambdas generate demo clean \
	build-SubmitFunction build-PollFunction build-NotifyFunction build-SweepFunction

all: build test

## test: vet, lint the SAM template, then every test with the race detector
test: vet template-lint unit

template-lint:
	cfn-lint template.yaml

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

## lint: golangci-lint with .golangci.yml
lint:
	$(GOLANGCI_LINT) run ./...

## build: the jobwatch CLI for this machine and the Lambda bootstraps
build: cli lambdas

cli:
	$(GO) build -o $(BIN)/jobwatch ./cmd/jobwatch

lambdas: build-SubmitFunction build-PollFunction build-NotifyFunction build-SweepFunction

build-SubmitFunction:
	$(call build-function,SubmitFunction,submit)

build-PollFunction:
	$(call build-function,PollFunction,poll)

build-NotifyFunction:
	$(call build-function,NotifyFunction,notify)

build-SweepFunction:
	$(call build-function,SweepFunction,sweep)

## generate: regenerate internal/amplify from the service model
generate:
	$(GO) generate ./internal/amplify

## demo: the main job, end to end on this machine
demo:
	$(GO) run ./cmd/jobwatch demo $(DEMO_FLAGS)

clean:
	rm -rf $(BIN)

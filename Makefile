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

.PHONY: all test vet template-lint unit fuzz soak bench bench-coldstart lint build cli lambdas generate demo clean \
	build-SubmitFunction build-PollFunction build-NotifyFunction build-SweepFunction

all: build test

## test: vet, lint the SAM template, every test with the race detector,
## then a short run of every fuzz target
test: vet template-lint unit fuzz

# Fuzz targets, as package:target. FUZZTIME bounds each; `make fuzz
# FUZZTIME=5m` for a long run. Inputs that fail are kept in testdata/fuzz.
FUZZ_TARGETS := \
	./internal/contract:FuzzDecodeJobRequest \
	./internal/contract:FuzzDecodeTrackingMessage \
	./internal/contract:FuzzDecodeStatusChange \
	./internal/contract:FuzzDecodeWakeup \
	./internal/amplify:FuzzDecodeInput \
	./internal/submit:FuzzHandleLambda \
	./internal/poll:FuzzHandleLambda \
	./internal/notify:FuzzHandleSQS
FUZZTIME ?= 3s

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/jobwatch-fuzz.log 2>&1 \
			|| { cat /tmp/jobwatch-fuzz.log; exit 1; }; \
	done

template-lint:
	cfn-lint template.yaml

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

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

## soak: 1,000 jobs through the local stack with faults, duplicates and crashes
soak:
	$(GO) run ./cmd/jobwatch soak --jobs 1000

## bench: detection lag, calls and cost per job of each polling policy
bench:
	$(GO) run ./cmd/jobwatch bench --plot docs/bench.png

## bench-coldstart: each bootstrap's size and time to first invoke, vs hello-world
bench-coldstart:
	$(GO) run ./cmd/jobwatch bench --coldstart --runs 7

## demo: the main job, end to end on this machine
demo:
	$(GO) run ./cmd/jobwatch demo $(DEMO_FLAGS)

clean:
	rm -rf $(BIN)

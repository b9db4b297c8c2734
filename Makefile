# jobwatch — see README.md. `make demo` runs the main job locally, `make test`
# runs every test.

GO            ?= go
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BIN           := bin

.PHONY: all test vet unit lint build generate demo clean

all: build test

## test: vet, then every test with the race detector
test: vet unit

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

## lint: golangci-lint with .golangci.yml
lint:
	$(GOLANGCI_LINT) run ./...

## build: the jobwatch CLI for this machine
build:
	$(GO) build -o $(BIN)/jobwatch ./cmd/jobwatch

## generate: regenerate internal/amplify from the service model
generate:
	$(GO) generate ./internal/amplify

## demo: the main job, end to end on this machine
demo:
	@echo "make demo: the local demo is not built yet (issue 5); try 'go run ./cmd/jobwatch call' meanwhile"

clean:
	rm -rf $(BIN)

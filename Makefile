# rpcbridge
#
#   make test    install what the tests need (a real ZooKeeper from Debian's
#                "zookeeper" package, and curl for the demo's printed lines),
#                then vet, check formatting and run every test with the race
#                detector
#   make build   build bin/rpcbridge
#   make demo    run the gateway on built-in sample backends
#   make bench   run the Go benchmarks

GO      ?= go
PKGS    ?= ./...
TIMEOUT ?= 20m

.PHONY: test deps vet fmt-check build demo bench

test: deps vet fmt-check
	$(GO) test -race -count=1 -timeout $(TIMEOUT) $(PKGS)

deps:
	sh scripts/zookeeper.sh install
	@command -v curl >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y curl; }

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/')); \
	if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -trimpath -o bin/rpcbridge ./cmd/rpcbridge

demo:
	$(GO) run ./cmd/rpcbridge demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./generic/... ./mapping/... ./registry/... ./protocols/... ./gateway/...

# rpcbridge
#
#   make test    install what the tests need (a real ZooKeeper from Debian's
#                "zookeeper" package, and curl for the demo's printed lines),
#                then vet, check formatting, run every test with the race
#                detector, and each fuzz target for 50,000 inputs
#   make fuzz    run each fuzz target for FUZZTIME (default 10m)
#   make build   build bin/rpcbridge
#   make demo    run the gateway on built-in sample backends
#   make bench   run the Go benchmarks

GO       ?= go
PKGS     ?= ./...
TIMEOUT  ?= 20m
FUZZTIME ?= 10m
# package:target for every fuzz target
FUZZ     ?= ./generic/:FuzzCheckJSON ./generic/:FuzzJSONReader

.PHONY: test deps vet fmt-check build demo bench fuzz

test: deps vet fmt-check
	$(GO) test -race -count=1 -timeout $(TIMEOUT) $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=50000x

fuzz:
	@for f in $(FUZZ); do \
		pkg=$${f%%:*}; name=$${f##*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

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

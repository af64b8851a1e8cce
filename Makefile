# rpcbridge
#
#   make test    install what the tests need (a real ZooKeeper from Debian's
#                "zookeeper" package, curl for the demo's printed lines and
#                curl and openssl for the README's signing example, and
#                chromium for the console's browser test),
#                then vet, check formatting, run every test with the race
#                detector, the shared JSON reader's fuzz targets for 50,000
#                inputs (FUZZ_TEST), and the integration suite against
#                processes and against compose (make integration)
#   make integration
#                the end-to-end suite (integration/) against the stack run as
#                processes, then against deploy/compose (Docker is installed and
#                started when missing; images are built locally when no image
#                registry answers); integration-processes and
#                integration-compose run one half each
#   make fuzz    run each fuzz target (FUZZ) for FUZZTIME (default 10m)
#   make build   build bin/rpcbridge
#   make dist    archives for linux/amd64, linux/arm64, darwin/arm64 + SHA256SUMS
#   make demo    run the gateway on built-in sample backends
#   make bench   run the Go benchmarks

GO       ?= go
PKGS     ?= ./...
TIMEOUT  ?= 20m
FUZZTIME ?= 10m
# Builds outside -race use the static binaries' settings (CGO_ENABLED=0,
# -trimpath: what deploy/compose/local-images.sh and integration/*.sh
# build with), so that vet, the integration builds and the images share
# one set of compiled packages instead of compiling everything twice.
STATIC   = CGO_ENABLED=0
# package:target for every fuzz target
FUZZ     ?= ./generic/:FuzzCheckJSON ./generic/:FuzzJSONReader ./protocols/dubbo/:FuzzDecodeReply ./protocols/dubbo/:FuzzWriteArgument \
            ./protocols/dubbo/:FuzzReplyWriterMatchesTree ./protocols/dubbo/:FuzzWriteFastMatchesGeneral
# the ones make test runs for 50,000 inputs. The Dubbo codec's targets are
# left to make fuzz: fuzzing instruments every package the fuzzed one
# imports, and protocols/dubbo's (dubbo-go among them) take about two
# minutes to compile that way on a cold machine. Their seeds and corpus
# (testdata/fuzz) run with every go test.
FUZZ_TEST = ./generic/:FuzzCheckJSON ./generic/:FuzzJSONReader

.PHONY: test deps vet fmt-check build dist demo bench fuzz java-test integration integration-processes integration-compose

test: deps vet fmt-check java-test
	$(GO) test -race -count=1 -timeout $(TIMEOUT) $(PKGS)
	# dubbo-getty races on its own session close: this test is built only without -race
	$(STATIC) $(GO) test -trimpath -count=1 -run '^TestStoppedProviderIsUnavailableQuickly$$' ./protocols/dubbo/
	# allocation counts that -race makes random (it drops sync.Pool items)
	$(STATIC) $(GO) test -trimpath -count=1 -run '^TestConditionsPickTheMostSpecificRouteThatMatches$$' ./mapping/
	$(MAKE) --no-print-directory fuzz FUZZ="$(FUZZ_TEST)" FUZZTIME=50000x
	# the integration suite against processes, then against the compose
	# stack (installs Docker and builds local images when it must)
	$(MAKE) --no-print-directory integration

fuzz:
	@for f in $(FUZZ); do \
		pkg=$${f%%:*}; name=$${f##*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

deps:
	sh scripts/zookeeper.sh install
	@missing=""; for t in curl openssl chromium; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y $$missing; fi
	@missing=""; command -v javac >/dev/null 2>&1 || missing="default-jdk-headless"; \
	for p in zookeeper:libzookeeper-java slf4j-nop:libslf4j-java junit-platform-console-standalone:junit5; do \
		[ -f /usr/share/java/$${p%%:*}.jar ] || missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get install -y $$missing; fi

# The end-to-end suite, twice: against processes on this machine, then
# against the compose stack. Each half tears its stack down, also on failure.
integration: integration-processes integration-compose

integration-processes:
	sh scripts/zookeeper.sh install
	GO=$(GO) bash integration/processes.sh run

integration-compose:
	GO=$(GO) bash integration/compose.sh run

# The Java SDK (sdk/java): build the jar with javac and run its JUnit 5 tests.
java-test:
	$(MAKE) --no-print-directory -C sdk/java test

vet:
	$(STATIC) $(GO) vet -trimpath $(PKGS)
	$(STATIC) $(GO) vet -trimpath -tags integration ./integration/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/')); \
	if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi

# -buildvcs=auto stamps the VCS version, revision and time that
# `rpcbridge version`, /admin/config and rpcbridge_build_info show (some
# environments set GOFLAGS=-buildvcs=false).
build:
	$(GO) build -trimpath -buildvcs=auto -o bin/rpcbridge ./cmd/rpcbridge

DIST_TARGETS ?= linux/amd64 linux/arm64 darwin/arm64

# make dist: static archives for each of DIST_TARGETS, with SHA-256 sums.
dist:
	@rm -rf dist && mkdir -p dist
	@for t in $(DIST_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; name=rpcbridge-$$os-$$arch; \
		echo "build $$name"; mkdir -p dist/$$name; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags "-s -w" -o dist/$$name/rpcbridge ./cmd/rpcbridge || exit 1; \
		cp README.md ARCHITECTURE.md dist/$$name/; \
		tar -C dist -czf dist/$$name.tar.gz $$name && rm -rf dist/$$name; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

demo:
	$(GO) run ./cmd/rpcbridge demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./generic/... ./mapping/... ./registry/... ./protocols/... ./gateway/...

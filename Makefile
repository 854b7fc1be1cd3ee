# datomspace build, test and benchmark targets.
GO        ?= go
BIN       ?= bin/datomspace
PREFIX    ?= /usr/local
PKGS      := ./...
BENCHTIME ?= 1x

.PHONY: all build test fmt-check vet unit race fuzz-smoke bench anchor kubo install clean demo docker-image testnet-up testnet-down testnet-test

all: build

build:
	$(GO) build -o $(BIN) ./cmd/datomspace

# test: the gate CI runs. gofmt check, go vet, the whole test suite, then the local API's load
# and cancellation tests again under the race detector.
test: fmt-check vet unit race

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 -timeout 20m $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 10m -run 'TestAPI|TestTCPAPI' ./peer

# fuzz-smoke: a few seconds of every fuzz target in every package (the seed corpora also run in
# `make test`). FUZZTIME sets how long each runs.
FUZZTIME ?= 5s
fuzz-smoke:
	@for p in $$($(GO) list ./...); do \
		for t in $$($(GO) test $$p -list '^Fuzz' | grep '^Fuzz'); do \
			echo "== $$p $$t"; \
			$(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; done

# bench: prints the figures the issues name, then runs the JavaScript anchors in the same run (when
# node and npm are present) and prints each figure beside the anchor's, with the ratio. Kubo, the
# blobs' anchor, runs inside the blob benchmarks, right after ours (build it with `make kubo`).
ANCHOR_DIR ?= /tmp/datomspace-anchor
BENCH_PKGS ?= ./corestore ./protocols ./datom ./datom/asset ./peer ./discovery . ./corestore/blobs ./protocols/blobsync ./doip
# Replication is noisy here: its benchmarks run REPL_COUNT times and the table shows the median.
REPL_COUNT ?= 5

# Each package runs in its own `go test`, after a sync, so that one package's benchmarks do not
# pay for the disk writeback another's left behind.
bench:
	@mkdir -p bin && : > bin/bench.txt
	@for p in $(BENCH_PKGS); do \
		sync; count=1; [ $$p = ./protocols ] && count=$(REPL_COUNT); \
		$(GO) test -p 1 $$p -run '^$$' -bench . -benchtime $(BENCHTIME) -count $$count -timeout 60m > bin/bench.pkg.txt; rc=$$?; \
		cat bin/bench.pkg.txt; cat bin/bench.pkg.txt >> bin/bench.txt; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done
	@# DWN on cores: a write is one sample, so writes run 2000 times and queries 20; the sync of 10,000 records once.
	@for p in ./dwn/dwncore; do \
		sync; $(GO) test -p 1 $$p -run '^$$' -bench 'RecordsWrite' -benchtime 2000x -timeout 30m | tee -a bin/bench.txt || exit 1; \
		$(GO) test -p 1 $$p -run '^$$' -bench 'RecordsQuery' -benchtime 20x -timeout 30m | tee -a bin/bench.txt || exit 1; \
	done
	@sync; $(GO) test -p 1 ./dwn/dwncore -run '^$$' -bench 'Sync' -benchtime 1x -timeout 30m | tee -a bin/bench.txt
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory anchor > bin/anchor.txt && cat bin/anchor.txt && \
		awk -f testnet/benchcmp.awk bin/anchor.txt bin/bench.txt; \
	else echo "(node/npm missing: no anchor comparison)"; echo "{}" > bin/anchor.txt; awk -f testnet/benchcmp.awk bin/anchor.txt bin/bench.txt; fi

# anchor: the JavaScript anchors (hypercore 11.37.1, corestore 7.12.5) in a scratch folder, one
# JSON line per figure. Only benchmarks need node; datomspace itself does not.
anchor:
	@mkdir -p $(ANCHOR_DIR)/dwn && cp testnet/anchor/*.mjs $(ANCHOR_DIR)/
	@cd $(ANCHOR_DIR) && { [ -f package.json ] || npm init -y >/dev/null; } && \
		{ [ -d node_modules/hypercore ] || npm i --no-audit --no-fund hypercore@11.37.1 corestore@7.12.5 >/dev/null 2>&1; } && \
		node hypercore-anchor.mjs $(ANCHOR_DIR)/data 100000 1024 1000 && \
		node hypercore-anchor.mjs $(ANCHOR_DIR)/data 2000 65536 100 && \
		node hypercore-encrypted.mjs $(ANCHOR_DIR)/enc 2000 65536 100 && \
		node hypercore-get.mjs $(ANCHOR_DIR)/get 100000 1024 200
	@DWN_ANCHOR_DIR=$(ANCHOR_DIR)/dwn sh dwn/anchor/run.sh bench.mjs 2000 20

# kubo: builds Kubo v0.39.0, the blobs' CID anchor and interop partner, into ~/.cache/datomspace/kubo
# (cached). The blob tests and benchmarks run it when it is there and skip its parts otherwise.
kubo:
	testnet/kubo/build.sh $(HOME)/.cache/datomspace/kubo

install:
	$(GO) install ./cmd/datomspace

clean:
	rm -rf bin

# demo: the seed's story end to end on loopback, in throwaway repos (testnet/demo.sh): Alice
# serves her contacts as datoms beside a bootstrap peer; Bob finds them through the DHT with only
# the key, verifies and queries them.
demo: build
	@./testnet/demo.sh $(BIN)

# --- testnet (docker compose) ------------------------------------------------------------------
# COMPOSE is `docker compose` (v2) when present, else `docker-compose` (v1).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo "docker-compose")
TESTNET  = $(COMPOSE) -f testnet/docker-compose.yml -p datomspace-testnet

# docker-image: a FROM scratch image around a static binary; needs no registry.
docker-image:
	@mkdir -p bin/docker
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/docker/datomspace ./cmd/datomspace
	docker build -q -t datomspace:testnet -f testnet/Dockerfile bin/docker

testnet-up: docker-image
	$(TESTNET) up -d bootstrap owner reader replica

testnet-down:
	$(TESTNET) down -v --remove-orphans

# testnet-test: the scenarios against the compose testnet, with the time of each step.
testnet-test: docker-image
	DATOMSPACE_TESTNET_COMPOSE="$(COMPOSE)" $(GO) test ./testnet -count=1 -run TestDockerScenarios -v -timeout 20m -docker

# --- soak ---------------------------------------------------------------------------------------
# soak: an owner daemon takes 1 KiB blocks from `append --stdin` (its unix-socket API) as fast as
# it can while a second daemon follows the core live (`serve --follow`). Every SOAK_EVERY it prints
# the anonymous and file-backed RSS of both; it fails if the replica's anonymous RSS ever passes
# SOAK_MAX_ANON_MB. Both repos hold every block: it writes a few GB a minute, under SOAK_DIR if set
# (default: a temporary directory, removed afterwards).
SOAK_TIME        ?= 3m
SOAK_EVERY       ?= 15s
SOAK_MAX_ANON_MB ?= 400
SOAK_DIR         ?=
.PHONY: soak
soak:
	$(GO) test ./testnet -run '^TestSoak$$' -count=1 -v -timeout 0 -soak $(SOAK_TIME) \
		-soak.every $(SOAK_EVERY) -soak.max-replica-anon-mb $(SOAK_MAX_ANON_MB) $(if $(SOAK_DIR),-soak.dir $(SOAK_DIR))

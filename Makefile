# datomspace build, test and benchmark targets.
GO        ?= go
BIN       ?= bin/datomspace
PREFIX    ?= /usr/local
PKGS      := ./...
BENCHTIME ?= 1x

.PHONY: all build test fmt-check vet unit fuzz-smoke bench anchor install clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/datomspace

# test: the gate CI runs. gofmt check, go vet, then the whole test suite.
test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 -timeout 20m $(PKGS)

# fuzz-smoke: a few seconds of every fuzz target (the seed corpora also run in `make test`).
fuzz-smoke:
	@for t in FuzzDecodeHeader FuzzDecodeNodePage FuzzDecodeSegment FuzzDecodeManifest FuzzVerifyProof FuzzDecodeBitPage; do \
		$(GO) test ./corestore -run '^$$' -fuzz "^$$t$$" -fuzztime 5s || exit 1; done

# bench: prints the figures the issues name. Compare them with `make anchor`, run right after.
bench:
	$(GO) test ./corestore -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m | tee /dev/stderr | $(GO) run ./corestore/internal/benchfmt

# anchor: runs the JavaScript Hypercore anchor (needs node and npm; not needed for anything else).
anchor:
	./scripts/anchor.sh

install:
	$(GO) install ./cmd/datomspace

clean:
	rm -rf bin

# Latch - build, run, test and lint.  `make help` lists the targets.
#
# Variables you can set on the command line:
#   PKGS=./internal/...        packages for test/bench/lint (default ./...)
#   TESTFLAGS='-run Foo -v'    extra flags for go test (test and bench-go)
#   BENCHFLAGS=-quick          flags for the bench harness (go run ./bench -help lists them)
#   LATCH_TEST_REDIS_URL / LATCH_TEST_DATABASE_URL / LATCH_TEST_RACE: see scripts/test-env.sh

SHELL := /bin/bash
GO ?= go
PKGS ?= ./...
TESTFLAGS ?=
BENCHFLAGS ?=
BIN := bin/latch
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Pinned: `go run pkg@version` needs no entry in go.mod. v0.8.x supports Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
# All Go files, NUL-separated (xargs -r: with no files gofmt must not read stdin).
GOFILES := find . -name '*.go' -not -path './vendor/*' -not -path '*/node_modules/*' -not -path './.git/*' -print0

# Go is at /usr/local/go on our machines; make sure it is found from a bare shell too.
export PATH := $(PATH):/usr/local/go/bin

.DEFAULT_GOAL := help

.PHONY: help build run test bench bench-go lint fmt clean screenshots

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-9s %s\n", $$1, $$2}'

build: ## Build the latch binary into bin/latch
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/latch

run: build ## Build, apply database migrations, then serve (uses LATCH_* env vars)
	./$(BIN) migrate
	./$(BIN) serve

test: ## Set up Redis/PostgreSQL/Chromium if needed, then go test -race -count=1 ./...
	PKGS='$(PKGS)' TESTFLAGS='$(TESTFLAGS)' bash scripts/test-env.sh test

bench: build ## Latch (SQLite, PostgreSQL) vs a reference server under load: one table, JSON in bench/out/ (<10 min)
	bash scripts/test-env.sh exec $(GO) run ./bench -latch $(BIN) $(BENCHFLAGS)

bench-go: ## go test -bench for the pieces (session load, middleware, registry) against real Redis/PostgreSQL
	PKGS='$(PKGS)' TESTFLAGS='$(TESTFLAGS)' bash scripts/test-env.sh bench

# The accessibility browser test visits every page; with LATCH_SCREENSHOTS set it
# also photographs each one (cmd/latch/browser_a11y_test.go). `make test` leaves them alone.
SCREENSHOTS := docs/screenshots
screenshots: ## Rewrite docs/screenshots/*.png: every page at 1280 and 390 px, top 1,600 px (headless Chromium)
	rm -f $(SCREENSHOTS)/*.png
	LATCH_SCREENSHOTS='$(CURDIR)/$(SCREENSHOTS)' LATCH_TEST_RACE=0 PKGS=./cmd/latch \
		TESTFLAGS='-run ^TestBrowserAccessibility$$' bash scripts/test-env.sh test
	@ls $(SCREENSHOTS)/*.png | wc -l | xargs printf '%s screenshots in $(SCREENSHOTS)/\n'

lint: ## gofmt (must list nothing), go vet, staticcheck
	@echo 'gofmt -l (all .go files)'
	@out="$$($(GOFILES) | xargs -0 -r gofmt -l)"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need 'gofmt -w':"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

fmt: ## Rewrite Go files with gofmt -w
	$(GOFILES) | xargs -0 -r gofmt -w

clean: ## Remove build output and test caches
	rm -rf bin/ latch *.test *.out
	$(GO) clean -testcache

# payjs-close: the two commands are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/.bin
RIE_VERSION  := v0.0.0-20261030222936-bef5c4ba774d
LINT_VERSION := v2.15.0
RIE       := $(BIN)/aws-lambda-rie
LINT      := $(BIN)/golangci-lint
LDFLAGS   := -s -w
FUZZTIME  ?= 5m
EVENT     ?= events/direct.json
export PAYJS_RIE := $(RIE)
# The Python tools .ci/prereqs installs into .venv/ (moto, cfn-lint, the
# AWS CLI), when the system lacks them, come first for every recipe.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-25s %s\n", $$1, $$2}'

.PHONY: run
run: ## run the function locally on http://127.0.0.1:3000 against the PAYJS simulator, scheduled closes in process (no AWS, no Docker)
	$(build-local)
	@exec $(LOCAL)

.PHONY: invoke
invoke: $(RIE) ## send EVENT=events/<file>.json through the real bootstrap under the Lambda emulator, moto as Secrets Manager and Scheduler; exits 1 on an error result
	$(build-local)
	@exec $(LOCAL) -invoke $(EVENT)

# cmd/local, built after a line that says so: with an empty Go build cache the
# build compiles the AWS SDK and the module and prints nothing for a while
# (the README's "Two commands" gives the times measured).
LOCAL := $(BIN)/local
define build-local
@echo "make $@: building cmd/local into .bin/ (about 40 s the first time, with an empty Go build cache; then a second)"
$(GO) build -o $(LOCAL) ./cmd/local
endef

.PHONY: smoke
smoke: ## once before production: close ORDER=<payjs_order_id> twice on PAYJS with your key, check the function reads PAYJS's answers
	@if [ -z "$${ORDER:-}" ]; then \
	  echo "make smoke: set ORDER to the payjs_order_id of an unpaid order you created for this check (it gets closed)," >&2; \
	  echo "  and PAYJS_MCHID and PAYJS_KEY, or PAYJS_SECRET_ID: make smoke ORDER=2026..." >&2; exit 2; fi
	$(GO) run ./cmd/payjs-smoke -order "$$ORDER"

.PHONY: test
test: prereqs tools vet lint ## install what the tests need, then vet, lint, unit, integration (moto), cfn-lint and end-to-end (emulator) tests
	$(GO) test -race -count=1 ./...

.PHONY: prereqs
prereqs: ## check, and install where missing, moto, PyYAML, cfn-lint, the AWS CLI and a C compiler (.ci/prereqs)
	@bash .ci/prereqs

.PHONY: vet
vet: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: lint
lint: $(LINT) ## golangci-lint (pinned) with .golangci.yml
	$(LINT) run ./...

.PHONY: tools
tools: $(RIE) $(LINT) ## install the pinned Lambda emulator and linter into .bin/

$(RIE):
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 5m)
	$(GO) test ./payjs -run '^$$' -fuzz '^FuzzSign$$' -fuzztime $(FUZZTIME)
	$(GO) test ./payjs -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./handler -run '^$$' -fuzz '^FuzzInvoke$$' -fuzztime $(FUZZTIME)
	$(GO) test ./handler/closing -run '^$$' -fuzz '^FuzzCloseAt$$' -fuzztime $(FUZZTIME)

.PHONY: bench
bench: $(RIE) ## the function beside a minimal Go Lambda under the emulator, on loopback and at WAN round trips
	$(GO) run ./cmd/bench

# The version the bootstrap reports (User-Agent, init log line): the nearest tag, else the
# commit; "dev" where there is no git or no repository, as in the copy of the source that
# `sam build` makes unless it builds in source (samconfig.toml: build_in_source).
# Override with `make build VERSION=1.2.3` or `VERSION=1.2.3 sam build`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set.
.PHONY: build-CloseOrderFunction
build-CloseOrderFunction: ## what sam build runs: the linux/arm64 bootstrap into ARTIFACTS_DIR
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath \
	  -ldflags "$(LDFLAGS) -X github.com/payjs-close/payjs-close/payjs.Version=$(VERSION)" \
	  -o $(ARTIFACTS_DIR)/bootstrap ./cmd/closeorder

.PHONY: build
build: ## build the linux/arm64 bootstrap into .build/ as SAM would
	$(MAKE) build-CloseOrderFunction ARTIFACTS_DIR=$(CURDIR)/.build

.PHONY: clean
clean: ## remove .build/, .aws-sam/ and the cmd/local binary
	rm -rf .build .aws-sam $(LOCAL)

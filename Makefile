# Rapport — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
ROOT := $(CURDIR)
BIN := $(ROOT)/.cache/bin
export PATH := $(BIN):$(PATH)
export GOFLAGS ?= -buildvcs=false

# Pinned code generators (installed from the Go module proxy into .cache/bin).
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
CONTROLLER_GEN_VERSION := v0.22.0
# The charts' tests render charts/ with the real helm CLI, and run their
# unit tests (charts/*/tests) with helm-unittest.
HELM_VERSION := v4.3.2
HELM_UNITTEST_VERSION := v1.1.2

# Every Go module of the workspace.
# Every module go.work names: a new service is tested, vetted and formatted once it is there.
MODULES := $(shell awk '/^use \(/ {u = 1; next} u && /^\)/ {u = 0} u {sub(/^\.\//, "", $$1); print $$1}' go.work)
PKGS := $(addsuffix /...,$(addprefix ./,$(MODULES)))

.PHONY: run web web-if-missing web-check chromium test test-go test-fuzz fuzz lint vet fmt-check proto proto-check crd crd-check tools bench postgres envtest-assets images

# The operator's tests run against a real kube-apiserver and etcd, which
# cannot be downloaded here: they are built from the Go module proxy
# (tools/envtest) into .cache once (about 5 minutes cold) and reused.
ENVTEST_K8S := 1.36.3
ENVTEST_DIR := $(ROOT)/.cache/envtest/k8s-$(ENVTEST_K8S)
export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)

## run: the whole platform on this machine (PostgreSQL, Kafka, every service) — see deploy/local.
run: web-if-missing
	go run ./deploy/local

# The web application (Svelte + Vite, npm) is built into
# services/gateway/web/dist, which the gateway binary embeds.
WEB := services/gateway/web

## web: install the web application's npm packages (from the lock file) and build it.
web: $(WEB)/node_modules/.package-lock.json
	cd $(WEB) && npm run --silent build

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error

# make run builds the web application only when it was never built.
web-if-missing:
	@[ -f $(WEB)/dist/index.html ] || $(MAKE) --no-print-directory web

## web-check: type-check the web application (svelte-check) and its API types against the OpenAPI documents.
web-check: $(WEB)/node_modules/.package-lock.json
	cd $(WEB) && npm run --silent check
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd $(WEB) && \
	  for s in contacts sales tasks; do npx openapi-typescript ../../$$s/api/openapi.json -o "$$tmp/$$s.d.ts" >/dev/null 2>&1 && \
	    if ! diff -q "$$tmp/$$s.d.ts" src/api/$$s.d.ts >/dev/null; then echo "src/api/$$s.d.ts is stale: cd $(WEB) && npm run gen:api"; exit 1; fi; done

## test: everything, against real PostgreSQL, the kfake broker and real processes.
test: proto-check crd-check lint web-check test-go test-fuzz

test-go: web chromium postgres envtest-assets $(BIN)/helm-$(HELM_VERSION) $(BIN)/helm-unittest-$(HELM_UNITTEST_VERSION)
	go test -p 2 -count=1 -timeout 30m $(PKGS)

## test-fuzz: every Go native fuzz target, briefly (the seeds and what a few seconds find).
test-fuzz:
	tools/fuzz/run 5s

## fuzz: every fuzz target for longer (FUZZTIME=2m by default); failures land in testdata/fuzz.
FUZZTIME ?= 2m
fuzz:
	tools/fuzz/run $(FUZZTIME)

## lint: gofmt, go vet and buf lint.
lint: fmt-check vet
	cd proto && buf lint

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet $(PKGS)

## proto: regenerate pkg/gen from proto/ with the pinned tools.
proto: tools
	cd proto && buf lint
	rm -rf pkg/gen && cd proto && buf generate -o ../pkg

## proto-check: fail when buf lint fails or the committed pkg/gen is stale.
proto-check: tools
	cd proto && buf lint
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  cd proto && buf generate -o "$$tmp" >/dev/null && \
	  if ! diff -r "$$tmp/gen" ../pkg/gen; then echo "pkg/gen is stale: run make proto"; exit 1; fi

tools: $(BIN)/buf-$(BUF_VERSION) $(BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION) $(BIN)/helm-$(HELM_VERSION) $(BIN)/helm-unittest-$(HELM_UNITTEST_VERSION)

## crd: regenerate the operator's deep copies, the chart's CRDs (from services/operator/api) and its ClusterRole (from the controller's RBAC markers).
crd: tools
	cd services/operator && controller-gen object paths=./api/... && controller-gen crd paths=./api/... output:crd:dir=../../charts/rapport-operator/crds && \
	  controller-gen rbac:roleName=rapport-operator paths=./internal/controller/... output:rbac:artifacts:config=../../charts/rapport-operator/rbac

## crd-check: fail when the committed deep copies or CRDs are stale.
crd-check: tools
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd services/operator && \
	  controller-gen crd paths=./api/... output:crd:dir="$$tmp" && \
	  if ! diff -r "$$tmp" ../../charts/rapport-operator/crds; then echo "the CRDs are stale: run make crd"; exit 1; fi && \
	  mkdir "$$tmp/rbac" && controller-gen rbac:roleName=rapport-operator paths=./internal/controller/... output:rbac:artifacts:config="$$tmp/rbac" && \
	  if ! diff "$$tmp/rbac/role.yaml" ../../charts/rapport-operator/rbac/role.yaml; then echo "the operator's ClusterRole is stale: run make crd"; exit 1; fi && \
	  cp api/v1alpha1/zz_generated.deepcopy.go "$$tmp/deepcopy.go" && controller-gen object paths=./api/... && \
	  if ! diff "$$tmp/deepcopy.go" api/v1alpha1/zz_generated.deepcopy.go; then echo "the deep copies are stale: run make crd"; exit 1; fi

$(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION):
	GOBIN=$(BIN) GOWORK=off go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	touch $@

$(BIN)/helm-$(HELM_VERSION):
	GOBIN=$(BIN) GOWORK=off go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	touch $@

# helm-unittest's go.mod has a replace directive, which go install refuses:
# it is built inside its module, fetched from the Go module proxy.
$(BIN)/helm-unittest-$(HELM_UNITTEST_VERSION):
	@mkdir -p $(BIN)
	dir=$$(cd $(BIN) && GOWORK=off GOFLAGS= go mod download -json github.com/helm-unittest/helm-unittest@$(HELM_UNITTEST_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
	  cd "$$dir" && GOWORK=off GOFLAGS= go build -o $(BIN)/helm-unittest ./cmd/helm-unittest
	touch $@

$(BIN)/buf-$(BUF_VERSION):
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	touch $@

$(BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	touch $@

## postgres: make sure the PostgreSQL server binaries are installed (tests start private clusters).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { echo "installing PostgreSQL with apt"; apt-get update -qq && apt-get install -y -qq postgresql; }

# The web application's tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || \
	  { echo "installing Chromium with apt"; apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core; }

## bench: the benchmarks of DESIGN.md §13; figures go to BENCHMARKS.md.
bench: web chromium postgres envtest-assets
	@mkdir -p .cache
	set -o pipefail; go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./tests/bench/ | tee .cache/bench.txt
	set -o pipefail; cd services/contacts && go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/app/ | tee -a ../../.cache/bench.txt
	set -o pipefail; cd services/sales && go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/app/ | tee -a ../../.cache/bench.txt
	set -o pipefail; cd services/tasks && go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/app/ | tee -a ../../.cache/bench.txt
	set -o pipefail; cd services/operator && go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/app/ | tee -a ../../.cache/bench.txt
	go run ./tests/cmd/benchreport -out BENCHMARKS.md < .cache/bench.txt

## images: an OCI image layout per program under build/images, without Docker (docs/images.md); TAG=... overrides the chart's appVersion.
images:
	cd tools/images && GOWORK=off go run . -out $(ROOT)/build/images $(if $(TAG),-tag $(TAG))

## envtest-assets: build kube-apiserver and etcd for the operator's tests into .cache.
envtest-assets: $(ENVTEST_DIR)/kube-apiserver $(ENVTEST_DIR)/etcd

$(ENVTEST_DIR)/kube-apiserver:
	@mkdir -p $(ENVTEST_DIR)
	cd tools/envtest/kube-apiserver && GOWORK=off go build -o $@.tmp k8s.io/kubernetes/cmd/kube-apiserver && mv $@.tmp $@

$(ENVTEST_DIR)/etcd:
	@mkdir -p $(ENVTEST_DIR)
	cd tools/envtest/etcd && GOWORK=off go build -o $@.tmp . && mv $@.tmp $@

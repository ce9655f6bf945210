# elbow: the README's commands are `make demo` and `make test`.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...

.PHONY: all build image test unit lint bench demo tools deps clean conformance
STATICCHECK_VERSION := v0.8.2

all: build

build:
	$(GO) build -o $(BIN)/elbow ./cmd/elbow

# The container image, built in Go without a Docker daemon: an OCI archive
# with linux/amd64 and linux/arm64, loadable by docker load, ctr import and
# kind load image-archive (docs/install.md). Same sources, VERSION and
# SOURCE_DATE_EPOCH (default: the last commit's time), same digest.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
image:
	$(GO) run ./hack/image -o $(BIN)/elbow-image.tar -version $(VERSION)

# The README's first command: a local cluster running an example, with the
# load balancer it produces checked and a command to reach it
# (docs/dev.md). FILE picks another example; Ctrl-C stops it.
FILE ?= examples/alb-ingress-full.yaml
demo: build tools
	$(BIN)/elbow dev -f $(FILE)

# The one test command (README, .ci/run).
test: deps tools lint unit

# Debian packages the tests drive (curl, the AWS CLI), installed when missing.
deps:
	hack/deps.sh

# Kubernetes control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager) and helm built from the Go module proxy into
# bin/, reused while their pinned versions do not change
# (docs/kubernetes-binaries.md).
tools:
	hack/tools/build.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags conformance $(PKGS)
	@[ -x $(BIN)/staticcheck ] && [ "$$(cat $(BIN)/staticcheck.stamp 2>/dev/null)" = "$(STATICCHECK_VERSION)" ] || \
		{ GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) && echo $(STATICCHECK_VERSION) > $(BIN)/staticcheck.stamp; }
	$(BIN)/staticcheck -tags conformance $(PKGS)

unit:
	$(GO) test -count=1 -timeout 60m $(PKGS)

# Speed and memory figures, each against a peer measured in the same run
# (docs/architecture.md, "Tests and benchmarks"). SCALE=1 runs the
# controller-at-scale benchmark at the issue's full size (by our estimate
# over 20 minutes; the default, 0.2, takes about 3.5).
bench: build
	hack/bench-alb.sh
	hack/bench-nlb.sh
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/elb/dataplane/health/
	$(GO) test -run '^$$' -bench BenchmarkUDPFlows -benchtime 1x ./internal/elb/dataplane/nlb/
	$(GO) test -run '^$$' -bench . ./internal/elb/server/
	@if [ -d internal/deploy ]; then $(GO) test -run '^$$' -bench . ./internal/deploy/; fi
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./internal/controller/scale/ $(if $(SCALE),-scale $(SCALE))

# The Gateway API conformance suite (the module's version in go.mod,
# unmodified) against elbow dev, writing the reports the README shows:
# GATEWAY-HTTP and GATEWAY-GRPC on the ALB class, then GATEWAY-TCP, -UDP and
# -TLS on NLBs (docs/conformance.md). A few minutes each; it binds the
# load balancers' well-known loopback ports as test/e2e does.
GWAPI_VERSION = $(shell $(GO) list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
conformance: tools
	cd conformance && $(GO) test -tags conformance -count=1 -timeout 90m . -args \
		-report-output reports/$(GWAPI_VERSION)/alb-report.yaml -version $(VERSION)
	cd conformance && $(GO) test -tags conformance -count=1 -timeout 90m . -args -elbow-l4 \
		-report-output reports/$(GWAPI_VERSION)/l4-report.yaml -version $(VERSION)

clean:
	rm -rf $(BIN)

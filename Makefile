# elbow: the README's commands are `make demo` and `make test`.
GO      ?= go
BIN     := $(CURDIR)/bin
PKGS    := ./...

.PHONY: all build test unit lint bench demo tools clean

all: build

build:
	$(GO) build -o $(BIN)/elbow ./cmd/elbow

# The one test command (README, .ci/run).
test: tools lint unit

# Kubernetes control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager) built from the Go module proxy into bin/, reused
# while their pinned versions do not change (docs/kubernetes-binaries.md).
tools:
	hack/tools/build.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 -timeout 60m $(PKGS)

bench:
	@echo "no benchmarks yet"

clean:
	rm -rf $(BIN)

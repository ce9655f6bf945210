#!/bin/sh
# Benchmark of the application load balancer data plane: elbow's ALB
# against the direct path and nginx proxying to the same backends, with
# wrk (HTTP/1.1 and HTTPS, 64 keep-alive connections), h2load (HTTP/2) and
# ghz (gRPC unary and streaming), all on loopback. Prints req/s, latencies,
# the proxies' CPU per request and the ratios, and HAProxy relaying the
# same loads in TCP mode as the bound of what a proxy reaches here.
# Installs Debian's wrk, haproxy,
# nginx and nghttp2-client (h2load) when missing, and ghz (pinned, from the
# Go module proxy) into bin/.
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
if [ -n "$missing" ]; then
	echo "installing$missing (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
fi
mkdir -p bin
GHZ_VERSION=v0.120.0
if [ ! -x bin/ghz ] || [ "$(cat bin/ghz.stamp 2>/dev/null)" != "$GHZ_VERSION" ]; then
	echo "installing ghz $GHZ_VERSION into bin/ (Go module proxy)"
	GOBIN="$PWD/bin" ${GO:-go} install github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION && echo "$GHZ_VERSION" > bin/ghz.stamp
fi
${GO:-go} build -o bin/albbench ./hack/albbench
exec bin/albbench -ghz bin/ghz "$@"

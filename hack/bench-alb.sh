#!/bin/sh
# Benchmark of the application load balancer data plane: elbow's ALB
# against the direct path and nginx proxying to the same nginx backend, with
# wrk (HTTP/1.1 and HTTPS, 64 keep-alive connections) and h2load (HTTP/2),
# all on loopback. Prints req/s, p99 and the ratios. Installs Debian's wrk,
# nginx and nghttp2-client (h2load) when missing.
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
	echo "installing$missing (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
fi
mkdir -p bin
${GO:-go} build -o bin/albbench ./hack/albbench
exec bin/albbench "$@"

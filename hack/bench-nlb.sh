#!/bin/sh
# Benchmark of the network load balancer data plane: elbow's NLB against the
# direct path and HAProxy (TCP mode), bulk TCP with iperf3, short-connection
# rate and UDP datagram rate, all on loopback. Prints figures and ratios.
# Installs Debian's iperf3 and haproxy when missing.
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v iperf3 >/dev/null 2>&1 || missing="$missing iperf3"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
if [ -n "$missing" ]; then
	echo "installing$missing (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
fi
mkdir -p bin
${GO:-go} build -o bin/nlbbench ./hack/nlbbench
exec bin/nlbbench "$@"

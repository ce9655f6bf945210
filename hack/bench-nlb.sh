#!/bin/sh
# Benchmark of the network load balancer data plane: elbow's NLB against the
# direct path and HAProxy (TCP mode), bulk TCP with iperf3, short-connection
# rate and UDP datagram rate (against nginx's stream module), all on
# loopback. Prints figures and ratios.
# Installs Debian's iperf3, haproxy and nginx's stream module when missing.
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v iperf3 >/dev/null 2>&1 || missing="$missing iperf3"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
if [ -n "$missing" ]; then
	echo "installing$missing (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $missing >/dev/null; }
fi
mkdir -p bin
${GO:-go} build -o bin/nlbbench ./hack/nlbbench
exec bin/nlbbench "$@"

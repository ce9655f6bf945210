#!/bin/sh
# Installs the Debian packages that `make test` needs and a fresh Debian
# machine with Go lacks: curl and the AWS CLI (tests drive the local ELB
# with them, as users do), Chromium (the console's browser test drives
# it headless) and OpenSSL (the TLS abuse tests attempt a renegotiation
# with s_client). Packages already present are left alone; run as
# root or with sudo available. Prints what it installs, and exactly what is
# missing when it cannot.
set -eu
missing=""
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v aws >/dev/null 2>&1 || missing="$missing awscli"
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$missing chromium"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
echo "deps: installing$missing (Debian packages)"
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "deps: missing$missing and not root (no sudo): install them with apt-get, then run make test again" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
	{ $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends $missing >/dev/null; } || {
	echo "deps: apt-get could not install$missing; install them by hand, then run make test again" >&2
	exit 1
}

#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries that tests and `elbow dev`
# run (kube-apiserver, kube-controller-manager, etcd), and the helm CLI the
# chart's tests run, into bin/, at the versions pinned by
# hack/tools/kube/go.mod, hack/tools/etcd/go.mod and hack/tools/helm/go.mod.
# A binary is rebuilt only when its stamp (module files + Go version)
# changes, so repeated runs cost nothing. See docs/kubernetes-binaries.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${BIN:-$root/bin}
mkdir -p "$bin"

# A module may pin link flags in an ldflags file (helm's version and the
# Kubernetes version it assumes, as helm's own Makefile sets them); they
# are part of the stamp.
stamp_of() { # module dir
	printf '%s %s %s' "$(go env GOVERSION)" \
		"$(sha256sum "$1/go.mod" | cut -c1-16)" \
		"$(sha256sum "$1/go.sum" | cut -c1-16)"
	[ -f "$1/ldflags" ] && printf ' %s' "$(sha256sum "$1/ldflags" | cut -c1-16)"
	printf '\n'
}

fresh() { # module dir, binaries...
	local dir=$1 want
	shift
	want=$(stamp_of "$dir")
	for b in "$@"; do
		[ -x "$bin/$b" ] && [ -f "$bin/$b.stamp" ] && [ "$(cat "$bin/$b.stamp")" = "$want" ] || return 1
	done
}

build() { # module dir, packages (name=path)...
	local dir=$1
	shift
	local names=() paths=()
	for np in "$@"; do names+=("${np%%=*}"); paths+=("${np#*=}"); done
	if fresh "$dir" "${names[@]}"; then
		echo "tools: ${names[*]} up to date"
		return
	fi
	echo "tools: building ${names[*]} (first build of kube-apiserver takes several minutes on 2 cores)"
	local start=$SECONDS out
	if ! out=$(cd "$dir" && go mod download 2>&1); then
		echo "$out" >&2
		echo "tools: cannot download the modules of $dir: is the Go module proxy ($(go env GOPROXY)) reachable?" >&2
		exit 1
	fi
	local tmp
	tmp=$(mktemp -d "$bin/.build.XXXXXX")
	trap 'rm -rf "$tmp"' RETURN
	local ldflags='-s -w'
	[ -f "$dir/ldflags" ] && ldflags="$ldflags $(cat "$dir/ldflags")"
	(cd "$dir" && go build -trimpath -ldflags="$ldflags" -o "$tmp/" "${paths[@]}")
	for n in "${names[@]}"; do
		mv -f "$tmp/$n" "$bin/$n" # go build names each binary after its package path
		stamp_of "$dir" >"$bin/$n.stamp"
	done
	echo "tools: built ${names[*]} in $((SECONDS - start))s"
}

build "$here/etcd" etcd=github.com/elbowlb/elbow/hack/tools/etcd
build "$here/kube" \
	kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
	kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
build "$here/helm" helm=helm.sh/helm/v3/cmd/helm

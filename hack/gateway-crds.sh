#!/usr/bin/env bash
# Copies the Gateway API CRDs (experimental channel: the standard resources
# plus the experimental ones) from the sigs.k8s.io/gateway-api module that
# go.mod pins into config/crd/gateway-api/, where `elbow dev` embeds them.
# config/crd's test fails when the copies and the pinned module differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
go mod download sigs.k8s.io/gateway-api
src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/experimental
dst=config/crd/gateway-api
rm -f "$dst"/*.yaml
for f in "$src"/*.yaml; do
	case $(basename "$f") in
	kustomization.yaml | *_vap_*) continue ;; # not CRDs
	esac
	install -m 0644 "$f" "$dst/"
done
go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api >"$dst/VERSION"
echo "gateway-crds: $(ls "$dst"/*.yaml | wc -l) CRDs of gateway-api $(cat "$dst/VERSION") in $dst"

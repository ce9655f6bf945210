//go:build tools

// Package helm pins the helm command this module builds.
package helm

import (
	_ "helm.sh/helm/v3/cmd/helm"
)

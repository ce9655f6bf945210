package controller

import "log/slog"

// newDeployer returns the stack deployer (internal/deploy) over the
// clients. Until that package exists it returns nil.
func newDeployer(Clients, Options, *slog.Logger) Deployer { return nil }

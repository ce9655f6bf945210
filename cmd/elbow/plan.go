package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newPlanCommand is wired in by the work on this subcommand.
func newPlanCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("plan: not built yet") },
	}
}

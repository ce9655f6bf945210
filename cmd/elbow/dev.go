package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDevCommand is wired in by the work on this subcommand.
func newDevCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("dev: not built yet") },
	}
}

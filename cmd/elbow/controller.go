package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newControllerCommand is wired in by the work on this subcommand.
func newControllerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "controller",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("controller: not built yet") },
	}
}

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newELBCommand is wired in by the work on this subcommand.
func newELBCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "elb",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("elb: not built yet") },
	}
}

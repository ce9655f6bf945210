// Command elbow is a drop-in for the AWS Load Balancer Controller that also
// runs anywhere, with its own local ELB. See README.md.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "elbow:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "elbow",
		Short:         "AWS load balancers for Kubernetes, on AWS or anywhere",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newELBCommand(),
		newPlanCommand(),
		newControllerCommand(),
		newDevCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version) },
		},
	)
	return root
}

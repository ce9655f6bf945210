package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// newELBBackupCommand is `elbow elb backup`.
func newELBBackupCommand() *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "backup --state-dir DIR FILE",
		Short: "Write a consistent copy of a local ELB's state to FILE, while it serves or not",
		Long: `Write a consistent copy of the state in --state-dir to FILE. When a local
ELB serves the directory it is asked for the copy (through the control
socket its lock file names) and keeps serving; otherwise the state file is
read directly. The copy is verified as the local ELB verifies its state at
start before it takes FILE's name. Restore it with elbow elb restore.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--state-dir is required")
			}
			if err := server.Backup(cmd.Context(), dir, args[0], timeout); err != nil {
				return err
			}
			info, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s (%d bytes)\n", filepath.Join(dir, state.FileName), args[0], info.Size())
			return nil
		},
	}
	stateFlags(cmd, &dir, &timeout, "state directory to back up (required)", "bound of the copy's verification")
	return cmd
}

// newELBRestoreCommand is `elbow elb restore`.
func newELBRestoreCommand() *cobra.Command {
	var (
		dir     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "restore --state-dir DIR FILE",
		Short: "Replace a stopped local ELB's state with a backup",
		Long: `Replace the state in --state-dir with the backup FILE (made by elbow elb
backup). No local ELB may be serving the directory. FILE is verified first;
the state file it replaces is kept beside it as elb.db.replaced-TIME.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--state-dir is required")
			}
			replaced, err := state.Restore(cmd.Context(), dir, args[0], timeout)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored %s into %s\n", args[0], filepath.Join(dir, state.FileName))
			if replaced != "" {
				fmt.Fprintf(out, "the state it replaced is kept at %s\n", replaced)
			}
			return nil
		},
	}
	stateFlags(cmd, &dir, &timeout, "state directory to restore into (required)", "bound of the backup's verification")
	return cmd
}

// stateFlags adds --state-dir and --state-check-timeout to a state
// command.
func stateFlags(cmd *cobra.Command, dir *string, timeout *time.Duration, dirUsage, timeoutUsage string) {
	cmd.Flags().StringVar(dir, "state-dir", "", dirUsage)
	cmd.Flags().DurationVar(timeout, "state-check-timeout", state.DefaultCheckTimeout, timeoutUsage)
}

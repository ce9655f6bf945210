//go:build !unix

package state

import (
	"errors"
	"os"
)

// errLocked reports a lock held by another open file.
var errLocked = errors.New("locked")

// flockExclusive is not implemented outside Unix: the local ELB's state
// directory lock is a flock.
func flockExclusive(*os.File) error {
	return errors.New("state directory locks need flock (Unix)")
}

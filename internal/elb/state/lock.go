package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LockFileName is the lock file of a state directory. The process that
// serves a state directory holds an exclusive flock on it for as long as
// it runs, and writes there who it is (Holder) so that a second process
// can say who holds the directory, and `elbow elb backup` can reach the
// holder for an online copy.
const LockFileName = "elb.lock"

// Holder describes the process that holds a state directory.
type Holder struct {
	// PID is the holder's process ID.
	PID int `json:"pid"`
	// Control is the path of the holder's control socket (a Unix socket
	// serving the online backup), empty when it serves none.
	Control string `json:"control,omitempty"`
}

// InUseError is returned when another process holds the state directory.
type InUseError struct {
	Dir    string
	Holder Holder // zero when the holder has not said who it is yet
}

func (e *InUseError) Error() string {
	who := "another process"
	if e.Holder.PID != 0 {
		who = fmt.Sprintf("another process (pid %d)", e.Holder.PID)
	}
	return fmt.Sprintf("state directory %s is in use by %s: only one local ELB may serve a state directory; stop that one, or give this one another --state-dir", e.Dir, who)
}

// dirLock is a held lock on a state directory.
type dirLock struct {
	dir string
	f   *os.File
}

// lockDir takes the state directory's lock without waiting. When another
// process holds it, the error is an *InUseError naming that process.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock %s: %w", path, err)
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			h, _ := ReadHolder(dir)
			return nil, &InUseError{Dir: dir, Holder: h}
		}
		return nil, fmt.Errorf("state lock %s: %w", path, err)
	}
	l := &dirLock{dir: dir, f: f}
	if err := l.record(Holder{PID: os.Getpid()}); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// record writes who holds the lock into the lock file.
func (l *dirLock) record(h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("state lock: %w", err)
	}
	b = append(b, '\n')
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("state lock %s: %w", l.f.Name(), err)
	}
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("state lock %s: %w", l.f.Name(), err)
	}
	return nil
}

// release drops the lock. The file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *dirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Close() // closing the descriptor releases the flock
	l.f = nil
}

// ReadHolder reads who holds (or last held) a state directory. The record
// is only meaningful while the lock is held: see InUseError.
func ReadHolder(dir string) (Holder, error) {
	var h Holder
	b, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil {
		return h, fmt.Errorf("state lock: %w", err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("state lock %s: %w", filepath.Join(dir, LockFileName), err)
	}
	return h, nil
}

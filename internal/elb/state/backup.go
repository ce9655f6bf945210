package state

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole store to w while the store
// keeps serving (one read transaction: writes go on, the copy is the
// state at its start). The copy is a state file of its own.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", s.path, err)
	}
	return n, nil
}

// WriteBackupFile writes a backup to file: write fills a temporary file
// beside it, which is synced, verified as a state file (VerifyFile), and
// only then renamed to file. On error nothing but what was there before
// is left at file's path.
func WriteBackupFile(ctx context.Context, file string, timeout time.Duration, write func(io.Writer) error) error {
	err := writeFileAtomic(file, func(f *os.File) error { return write(f) }, func(tmp string) error {
		if err := VerifyFile(ctx, tmp, timeout); err != nil {
			return fmt.Errorf("the copy does not verify: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", file, err)
	}
	return nil
}

// BackupDir writes a backup of the state in dir to file when no process
// holds dir (an *InUseError otherwise: ask the holder, see Holder). The
// state is verified first and not changed (no migration).
func BackupDir(ctx context.Context, dir, file string, timeout time.Duration) error {
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.release()
	path := filepath.Join(dir, FileName)
	if err := VerifyFile(ctx, path, timeout); err != nil {
		return err
	}
	db, err := openBolt(path, true)
	if err != nil {
		return err
	}
	defer db.Close()
	return WriteBackupFile(ctx, file, timeout, func(w io.Writer) error {
		return protect(func() error {
			return db.View(func(tx *bolt.Tx) error {
				_, err := tx.WriteTo(w)
				return err
			})
		})
	})
}

// Restore replaces the state in dir with the backup in file. dir must not
// be in use (an *InUseError otherwise). The backup is verified first
// (VerifyFile); the state file it replaces, if any, is kept beside it as
// elb.db.replaced-TIME, whose path Restore returns. The new state file
// appears whole or not at all.
func Restore(ctx context.Context, dir, file string, timeout time.Duration) (replaced string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer lock.release()
	if err := VerifyFile(ctx, file, timeout); err != nil {
		return "", fmt.Errorf("restore from %s: %w", file, err)
	}
	src, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer src.Close()
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err == nil {
		// A second name for the current file: it stays at path until the
		// restored file replaces it in one rename.
		replaced = fmt.Sprintf("%s.replaced-%s", path, time.Now().UTC().Format("20060102T150405.000000000Z"))
		if err := os.Link(path, replaced); err != nil {
			return "", fmt.Errorf("restore: keep the current state file: %w", err)
		}
	}
	err = writeFileAtomic(path, func(f *os.File) error {
		_, err := io.Copy(f, src)
		return err
	}, nil)
	if err != nil {
		return replaced, fmt.Errorf("restore from %s: %w", file, err)
	}
	return replaced, nil
}

// writeFileAtomic writes path through fill: a temporary file beside it,
// synced, checked by check (when not nil), renamed, and the directory
// synced. On error the temporary file is removed.
func writeFileAtomic(path string, fill func(*os.File) error, check func(tmp string) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

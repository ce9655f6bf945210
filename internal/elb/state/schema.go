package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the version of the state file's layout this build
// writes. A store of an older version is migrated at open, after an
// automatic copy of it (MigrationCopyName); a newer one is refused.
const SchemaVersion = 1

// schemaKey holds the schema version in the meta bucket (8 bytes, big
// endian); stores written before versioning have none: version 0.
const schemaKey = "schema"

// A migration brings a store from version From to From+1 inside the
// transaction that records the new version.
type migration struct {
	From     uint64
	Describe string
	Apply    func(*Tx) error
}

// migrations are every migration, in order of From.
var migrations = []migration{
	{From: 0, Describe: "seal every record with its checksum", Apply: sealAll},
}

// sealAll appends its checksum to every record of every bucket but meta
// (version 0 stored bare JSON documents).
func sealAll(tx *Tx) error {
	return tx.btx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if bytes.Equal(name, metaBucket) {
			return nil
		}
		type kv struct{ k, v []byte }
		var all []kv
		err := b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("bucket %s: nested bucket %q: not a record bucket", name, k)
			}
			all = append(all, kv{bytes.Clone(k), sealRecord(bytes.Clone(v))})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range all {
			if err := b.Put(r.k, r.v); err != nil {
				return fmt.Errorf("bucket %s: record %q: %w", name, r.k, err)
			}
		}
		return nil
	})
}

// MigrationCopyName is the name of the automatic copy of a state file
// taken before it is migrated from schema version from.
func MigrationCopyName(from uint64, at time.Time) string {
	return fmt.Sprintf("%s.schema-%d.%s", FileName, from, at.UTC().Format("20060102T150405Z"))
}

func decodeSchema(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func encodeSchema(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// checkSchema returns the store's schema version, refusing one newer than
// this build knows.
func checkSchema(tx *bolt.Tx, path string) (uint64, error) {
	v := decodeSchema(tx.Bucket(metaBucket).Get([]byte(schemaKey)))
	if v > SchemaVersion {
		return v, fmt.Errorf("state file %s has schema version %d, and this elbow knows versions up to %d: run the elbow that wrote it, or restore a backup of this version's (elbow elb restore)", path, v, SchemaVersion)
	}
	return v, nil
}

// migrate brings the store at path, open as db, to version target with
// the migrations ms. Before it changes anything it writes a consistent
// copy of the store next to it (MigrationCopyName) and syncs it; the
// migrations then run in one transaction, so that a failure leaves the
// store as it was. It returns the copy's path, empty when there was
// nothing to migrate.
func migrate(db *bolt.DB, path string, ms []migration, target uint64, now time.Time) (string, error) {
	var from uint64
	err := protect(func() error {
		return db.View(func(tx *bolt.Tx) error {
			from = decodeSchema(tx.Bucket(metaBucket).Get([]byte(schemaKey)))
			return nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("state %s: read the schema version: %w", path, err)
	}
	if from > target {
		return "", fmt.Errorf("state file %s has schema version %d, and this elbow knows versions up to %d: run the elbow that wrote it, or restore a backup of this version's (elbow elb restore)", path, from, target)
	}
	if from == target {
		return "", nil
	}
	copyPath := path[:len(path)-len(FileName)] + MigrationCopyName(from, now)
	err = protect(func() error {
		return db.View(func(tx *bolt.Tx) error { return writeCopy(tx, copyPath) })
	})
	if err != nil {
		return "", fmt.Errorf("state %s: copy before migrating from schema version %d: %w", path, from, err)
	}
	err = protect(func() error {
		return db.Update(func(btx *bolt.Tx) error {
			tx := &Tx{btx: btx}
			for v := from; v < target; v++ {
				m, ok := findMigration(ms, v)
				if !ok {
					return fmt.Errorf("no migration from schema version %d", v)
				}
				if err := m.Apply(tx); err != nil {
					return fmt.Errorf("migration from schema version %d (%s): %w", v, m.Describe, err)
				}
			}
			return btx.Bucket(metaBucket).Put([]byte(schemaKey), encodeSchema(target))
		})
	})
	if err != nil {
		return copyPath, fmt.Errorf("state %s: migrate from schema version %d to %d (the store is unchanged; a copy is at %s): %w", path, from, target, copyPath, err)
	}
	return copyPath, nil
}

func findMigration(ms []migration, from uint64) (migration, bool) {
	for _, m := range ms {
		if m.From == from {
			return m, true
		}
	}
	return migration{}, false
}

// writeCopy writes a consistent copy of the store tx reads to path: a
// temporary file beside it, synced, then renamed, then the directory
// synced, so that path is either absent or whole.
func writeCopy(tx *bolt.Tx, path string) error {
	return writeFileAtomic(path, func(f *os.File) error {
		_, err := tx.WriteTo(f)
		return err
	}, nil)
}

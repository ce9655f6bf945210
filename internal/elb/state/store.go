// Package state is the local ELB's durable state: every resource the AWS
// APIs create, kept in a bbolt file, and read back as Snapshots by the
// health checker and the data planes.
//
// A write (Store.Update) is one bbolt transaction, committed and synced to
// disk before Update returns, so a response is only sent for what a restart
// will find. Readers see a consistent view (Store.View, Store.Snapshot).
// Subscribers are told after each commit, so data planes can re-read.
//
// Records are JSON documents in one bucket per Kind. Nested API shapes
// (actions, conditions, transforms) are the aws-sdk-go-v2 types themselves,
// so what a client sent is what it reads back.
package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is an open state file.
type Store struct {
	db *bolt.DB

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// FileName is the name of the state file inside the state directory.
const FileName = "elb.db"

var metaBucket = []byte("meta")

const revisionKey = "revision"

// Open opens (creating when absent) the state file in dir. Only one process
// may hold it; a second Open waits up to five seconds, then fails.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(metaBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	return &Store{db: db, subs: map[chan struct{}]struct{}{}}, nil
}

// Close closes the file. Subscribers' channels are closed.
func (s *Store) Close() error {
	s.mu.Lock()
	for ch := range s.subs {
		close(ch)
		delete(s.subs, ch)
	}
	s.mu.Unlock()
	return s.db.Close()
}

// Tx is a transaction on the store. A Tx from View is read-only: writes
// through it fail.
type Tx struct {
	btx *bolt.Tx
}

// Update runs fn in a write transaction. When fn returns nil the
// transaction is committed and synced before Update returns, the revision
// is incremented and subscribers are told; when fn returns an error nothing
// it wrote is kept. Writers are serialised.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(btx *bolt.Tx) error {
		if err := fn(&Tx{btx: btx}); err != nil {
			return err
		}
		meta := btx.Bucket(metaBucket)
		rev := decodeRevision(meta.Get([]byte(revisionKey))) + 1
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], rev)
		return meta.Put([]byte(revisionKey), b[:])
	})
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
}

// Revision returns the number of committed writes, as seen by tx.
func (tx *Tx) Revision() uint64 {
	return decodeRevision(tx.btx.Bucket(metaBucket).Get([]byte(revisionKey)))
}

// Writable reports whether tx may write.
func (tx *Tx) Writable() bool { return tx.btx.Writable() }

func decodeRevision(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Subscribe returns a channel that receives a value after commits. Sends
// coalesce: a slow reader gets one notification for many commits, and must
// re-read the state (for example with Snapshot) when it wakes. cancel stops
// the subscription.
func (s *Store) Subscribe() (changes <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
		s.mu.Unlock()
	}
}

func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Kind names the bucket of one record type and how a record's key is made.
type Kind[T any] struct {
	Bucket string
	Key    func(*T) string
}

// ErrReadOnly is returned by writes through a View transaction.
var ErrReadOnly = errors.New("state: write in a read-only transaction")

// Get returns the record with the given key; ok is false when there is none.
func Get[T any](tx *Tx, k Kind[T], key string) (v *T, ok bool, err error) {
	b := tx.btx.Bucket([]byte(k.Bucket))
	if b == nil {
		return nil, false, nil
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return nil, false, nil
	}
	v = new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, false, fmt.Errorf("state: decode %s %q: %w", k.Bucket, key, err)
	}
	return v, true, nil
}

// Put stores a record under its key, replacing any record there.
func Put[T any](tx *Tx, k Kind[T], v *T) error {
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	key := k.Key(v)
	if key == "" {
		return fmt.Errorf("state: %s record without a key", k.Bucket)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: encode %s %q: %w", k.Bucket, key, err)
	}
	b, err := tx.btx.CreateBucketIfNotExists([]byte(k.Bucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// Delete removes the record with the given key and reports whether there
// was one.
func Delete[T any](tx *Tx, k Kind[T], key string) (bool, error) {
	if !tx.btx.Writable() {
		return false, ErrReadOnly
	}
	b := tx.btx.Bucket([]byte(k.Bucket))
	if b == nil || b.Get([]byte(key)) == nil {
		return false, nil
	}
	return true, b.Delete([]byte(key))
}

// List returns every record of a kind in key order.
func List[T any](tx *Tx, k Kind[T]) ([]*T, error) {
	return ListPrefix(tx, k, "")
}

// ListPrefix returns the records whose key starts with prefix, in key order.
func ListPrefix[T any](tx *Tx, k Kind[T], prefix string) ([]*T, error) {
	var out []*T
	err := ForEachPrefix(tx, k, prefix, func(v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// ForEachPrefix calls fn for each record whose key starts with prefix, in
// key order, stopping at the first error.
func ForEachPrefix[T any](tx *Tx, k Kind[T], prefix string, fn func(*T) error) error {
	b := tx.btx.Bucket([]byte(k.Bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	p := []byte(prefix)
	for key, raw := c.Seek(p); key != nil && bytes.HasPrefix(key, p); key, raw = c.Next() {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("state: decode %s %q: %w", k.Bucket, key, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of records of a kind.
func Count[T any](tx *Tx, k Kind[T]) int {
	b := tx.btx.Bucket([]byte(k.Bucket))
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

// GetMeta returns a value of the store's own bookkeeping (for example the
// local CA), nil when absent.
func (tx *Tx) GetMeta(key string) []byte {
	v := tx.btx.Bucket(metaBucket).Get([]byte(key))
	return bytes.Clone(v)
}

// PutMeta stores a bookkeeping value.
func (tx *Tx) PutMeta(key string, value []byte) error {
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	if key == revisionKey {
		return fmt.Errorf("state: meta key %q is reserved", key)
	}
	return tx.btx.Bucket(metaBucket).Put([]byte(key), value)
}

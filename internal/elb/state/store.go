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
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
	lock *dirLock
	log  *slog.Logger
	// tokenKey seals pagination tokens (TokenKey).
	tokenKey []byte

	// failed is set once the store met damage while serving (a page bbolt
	// could not read, a snapshot that could not be built): from then on
	// writes are refused (Err).
	failed atomic.Pointer[failure]

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// failure is why a store stopped taking writes.
type failure struct{ err error }

// FileName is the name of the state file inside the state directory.
const FileName = "elb.db"

var metaBucket = []byte("meta")

const revisionKey = "revision"

// Options tune OpenWith.
type Options struct {
	// CheckTimeout bounds the verification of the state file at open
	// (0: DefaultCheckTimeout).
	CheckTimeout time.Duration
	// Logger receives the store's own reports (a migration, damage met
	// while serving); nil discards them.
	Logger *slog.Logger
}

// Open opens the state in dir with default Options.
func Open(dir string) (*Store, error) {
	return OpenWith(context.Background(), dir, Options{})
}

// OpenWith opens the state in dir, creating an empty one when dir holds
// no state file. The directory is locked against other processes (an
// *InUseError when one holds it) for as long as the store is open.
//
// An existing state file is verified before it is used, within
// o.CheckTimeout: its pages must all be present, bbolt's consistency check
// must pass, every record must decode, and its schema must be one this
// build knows. A damaged, truncated or empty (0-byte) file is refused
// with a *DamagedError that names the file and what to do; nothing is
// written to it. A store of an older schema is copied aside
// (MigrationCopyName) and then migrated.
func OpenWith(ctx context.Context, dir string, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := o.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		err = create(path)
	case err == nil && info.Size() == 0:
		err = damaged(path, "is empty (0 bytes): a state file is never empty once created, so it was truncated or replaced")
	}
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("open state: %w", err)
	}
	db, err := openBolt(path, false)
	if err != nil {
		lock.release()
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	err = verify(vctx, db, path)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// bbolt's check may still hold a read transaction, which Close
			// waits for: close once it ends.
			go func() { db.Close(); lock.release() }()
			return nil, fmt.Errorf("%w (the check is bounded by %s: raise it for a file this large)", err, timeout)
		}
		db.Close()
		lock.release()
		return nil, err
	}
	copyPath, err := migrate(db, path, migrations, SchemaVersion, time.Now())
	if err != nil {
		db.Close()
		lock.release()
		return nil, err
	}
	if copyPath != "" {
		log.Info("state migrated to the current schema; the store as it was is kept", "file", path, "schema", SchemaVersion, "copy", copyPath)
	}
	key, err := tokenKey(db)
	if err != nil {
		db.Close()
		lock.release()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return &Store{db: db, path: path, lock: lock, log: log, tokenKey: key, subs: map[chan struct{}]struct{}{}}, nil
}

// tokenKeyName is the meta key of the secret that seals pagination tokens.
const tokenKeyName = "page-token-key"

// tokenKey returns the store's pagination token key, made (32 random
// bytes) and stored on first use.
func tokenKey(db *bolt.DB) ([]byte, error) {
	var key []byte
	err := protect(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(metaBucket)
			if k := meta.Get([]byte(tokenKeyName)); len(k) == 32 {
				key = bytes.Clone(k)
				return nil
			}
			key = make([]byte, 32)
			_, _ = rand.Read(key) // crypto/rand.Read never fails
			return meta.Put([]byte(tokenKeyName), key)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pagination token key: %w", err)
	}
	return key, nil
}

// TokenKey returns the secret key that seals the services' pagination
// tokens (internal/elb/service/pagetoken): random, made with the store and
// kept in it, so that tokens stay valid across restarts.
func (s *Store) TokenKey() []byte { return bytes.Clone(s.tokenKey) }

// create makes an empty state file at path, of the current schema: built
// beside it and renamed into place, so that path is never a file half
// made.
func create(path string) error {
	tmp := path + ".new.tmp"
	_ = os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		return meta.Put([]byte(schemaKey), encodeSchema(SchemaVersion))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// SetControl records in the state directory's lock file the path of this
// process's control socket (Holder.Control), for `elbow elb backup`.
func (s *Store) SetControl(socket string) error {
	return s.lock.record(Holder{PID: os.Getpid(), Control: socket})
}

// Close closes the file and releases the state directory. Subscribers'
// channels are closed.
func (s *Store) Close() error {
	s.mu.Lock()
	for ch := range s.subs {
		close(ch)
		delete(s.subs, ch)
	}
	s.mu.Unlock()
	err := protect(s.db.Close)
	s.lock.release()
	return err
}

// Err returns nil while the store is sound, else why it stopped taking
// writes: damage met while serving (a page that could not be read, a
// snapshot that could not be built). Such a store stays failed until the
// process restarts, which verifies the file again.
func (s *Store) Err() error {
	if f := s.failed.Load(); f != nil {
		return f.err
	}
	return nil
}

// fail marks the store failed (the first cause is kept and logged).
func (s *Store) fail(cause error) {
	err := fmt.Errorf("state file %s cannot be read: %w", s.path, cause)
	if s.failed.CompareAndSwap(nil, &failure{err: err}) {
		s.log.Error("state file damaged: writes are refused and the process reports unhealthy until it is restarted on a sound state file (restore a backup: elbow elb restore)",
			"file", s.path, "error", cause)
	}
}

// unavailable is the error writes get from a failed store: AWS's
// ServiceUnavailable (503), wrapping the cause (errors.Is ErrDamaged).
func (s *Store) unavailable() error {
	cause := s.Err()
	return fmt.Errorf("%w: %w", &awserr.Error{
		Code:     "ServiceUnavailable",
		Status:   http.StatusServiceUnavailable,
		Receiver: true,
		Message: fmt.Sprintf("The request has failed due to a temporary failure of the server: the local ELB's state file %s cannot be read, "+
			"so writes are refused until it is restored from a backup (elbow elb restore).", s.path),
	}, cause)
}

// damage turns damage met while reading (a panic in bbolt, a record whose
// checksum does not match) into a failure of the store and the call's
// ServiceUnavailable; other errors pass.
func (s *Store) damage(err error) error {
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		s.fail(&DamagedError{Path: s.path, Problem: "is damaged: " + pe.Error()})
	case errors.Is(err, ErrDamaged):
		s.fail(err)
	default:
		return err
	}
	return s.unavailable()
}

// view runs fn in a read transaction, protected against damage.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.damage(protect(func() error { return s.db.View(fn) }))
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
	if s.Err() != nil {
		return s.unavailable()
	}
	err := s.damage(protect(func() error {
		return s.db.Update(func(btx *bolt.Tx) error {
			if err := fn(&Tx{btx: btx}); err != nil {
				return err
			}
			meta := btx.Bucket(metaBucket)
			rev := decodeRevision(meta.Get([]byte(revisionKey))) + 1
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], rev)
			return meta.Put([]byte(revisionKey), b[:])
		})
	}))
	if err != nil {
		return err
	}
	s.notify()
	return nil
}

// View runs fn in a read-only transaction. A page that cannot be read
// fails the store (Err) and the call.
func (s *Store) View(fn func(*Tx) error) error {
	return s.view(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
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
	if err := decodeRecord(raw, v); err != nil {
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
	raw, err := encodeRecord(v)
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
		if err := decodeRecord(raw, v); err != nil {
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
	if key == revisionKey || key == schemaKey || key == tokenKeyName {
		return fmt.Errorf("state: meta key %q is reserved", key)
	}
	return tx.btx.Bucket(metaBucket).Put([]byte(key), value)
}

package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultCheckTimeout bounds the verification of a state file at open.
const DefaultCheckTimeout = time.Minute

// ErrDamaged is matched (errors.Is) by every error reporting a state file
// that cannot be trusted: damaged, truncated, emptied, or not a state file.
var ErrDamaged = errors.New("state file damaged")

// DamagedError reports a state file the local ELB refuses to serve, and
// what to do about it.
type DamagedError struct {
	// Path is the state file.
	Path string
	// Problem says what is wrong, as a predicate of the file ("is
	// truncated: …").
	Problem string
	// Copies are the copies of the state file found next to it (automatic
	// copies before schema migrations, files a restore replaced).
	Copies []string
}

func (e *DamagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "state file %s %s. The local ELB does not serve it: restore a backup with `elbow elb restore --state-dir %s FILE`",
		e.Path, e.Problem, filepath.Dir(e.Path))
	if len(e.Copies) > 0 {
		fmt.Fprintf(&b, " (copies found: %s)", strings.Join(e.Copies, ", "))
	}
	b.WriteString(", or move the file away to start an empty local cloud (the load balancers it held are then forgotten)")
	return b.String()
}

// Is makes DamagedError match ErrDamaged.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// damaged builds a DamagedError for the state file at path, listing the
// copies next to it.
func damaged(path, format string, args ...any) *DamagedError {
	return &DamagedError{Path: path, Problem: fmt.Sprintf(format, args...), Copies: copiesOf(path)}
}

// copiesOf lists the files next to path whose names start with path's
// name and a dot (elb.db.schema-0-…, elb.db.replaced-…), sorted.
func copiesOf(path string) []string {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	prefix := filepath.Base(path) + "."
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) && !strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// panicError is a panic (or memory fault) recovered from bbolt while it
// read a damaged file.
type panicError struct{ value any }

func (e *panicError) Error() string {
	return fmt.Sprintf("the database library failed reading it: %v", e.value)
}

// protect runs fn, turning a panic or a fault on the memory-mapped file
// into an error: bbolt asserts (panics) on pages it cannot make sense of,
// and a page beyond the end of a truncated file faults.
func protect(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v}
		}
	}()
	return fn()
}

// openBolt opens the bbolt file at path after its preflight; a panic in
// bbolt while opening is an error (the file's descriptor then stays open
// until the process ends: bbolt gives no handle to close).
func openBolt(path string, readOnly bool) (*bolt.DB, error) {
	if err := preflight(path); err != nil {
		return nil, err
	}
	var db *bolt.DB
	err := protect(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: readOnly})
		return err
	})
	var pe *panicError
	if errors.As(err, &pe) {
		return nil, damaged(path, "is damaged: %v", pe)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	return db, nil
}

// recordDecoders decode each kind's records, by bucket.
var recordDecoders = func() map[string]func([]byte) error {
	m := map[string]func([]byte) error{}
	add := func(bucket string, decode func([]byte) error) { m[bucket] = decode }
	add(decoder(LoadBalancers))
	add(decoder(Listeners))
	add(decoder(Rules))
	add(decoder(TargetGroups))
	add(decoder(Targets))
	add(decoder(TrustStores))
	add(decoder(Tags))
	add(decoder(VPCs))
	add(decoder(Subnets))
	add(decoder(RouteTables))
	add(decoder(InternetGateways))
	add(decoder(SecurityGroups))
	add(decoder(Instances))
	add(decoder(NetworkInterfaces))
	add(decoder(Addresses))
	add(decoder(Certificates))
	add(decoder(WebACLAssociations))
	add(decoder(WebACLs))
	add(decoder(LoopbackAllocations))
	return m
}()

func decoder[T any](k Kind[T]) (string, func([]byte) error) {
	return k.Bucket, func(doc []byte) error { return json.Unmarshal(doc, new(T)) }
}

// verify checks an open state file within ctx's deadline: every bucket
// and record is read (each record decoded as its kind) under protect, then
// bbolt's own consistency check (tx.Check) runs on what is now known to be
// readable. It returns a *DamagedError for damage, ctx's error when the
// deadline passes first.
func verify(ctx context.Context, db *bolt.DB, path string) error {
	tx, err := db.Begin(false)
	if err != nil {
		return fmt.Errorf("verify state %s: %w", path, err)
	}
	err = protect(func() error { return walk(ctx, tx) })
	if err != nil {
		_ = tx.Rollback()
		if ctx.Err() != nil {
			return fmt.Errorf("verify state %s: %w", path, ctx.Err())
		}
		return damaged(path, "is damaged: %v", err)
	}
	// tx.Check runs in a goroutine of bbolt's and reports on an unbuffered
	// channel; when the deadline passes first, the rest of its report is
	// drained in the background and the transaction ends with it.
	ch := tx.Check()
	var problems []string
	for {
		select {
		case <-ctx.Done():
			go func() {
				for range ch {
				}
				_ = tx.Rollback()
			}()
			return fmt.Errorf("verify state %s: bbolt's consistency check: %w", path, ctx.Err())
		case err, ok := <-ch:
			if !ok {
				_ = tx.Rollback()
				if len(problems) > 0 {
					more := ""
					if len(problems) == maxProblems {
						more = "; …"
					}
					return damaged(path, "is damaged (bbolt's consistency check: %s%s)", strings.Join(problems, "; "), more)
				}
				return nil
			}
			if len(problems) < maxProblems {
				problems = append(problems, err.Error())
			}
		}
	}
}

// maxProblems is how many consistency problems an error names.
const maxProblems = 5

// walk reads every bucket and record of tx, checking each record's
// checksum and decoding the records of known kinds, and checks the store's
// own bookkeeping.
func walk(ctx context.Context, tx *bolt.Tx) error {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		return errors.New("it has no meta bucket: it is not a local ELB state file")
	}
	if v := meta.Get([]byte(revisionKey)); v != nil && len(v) != 8 {
		return fmt.Errorf("its revision is %d bytes long, not 8", len(v))
	}
	if v := meta.Get([]byte(schemaKey)); v != nil && len(v) != 8 {
		return fmt.Errorf("its schema version is %d bytes long, not 8", len(v))
	}
	sealed := decodeSchema(meta.Get([]byte(schemaKey))) >= 1
	n := 0
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if bytes.Equal(name, metaBucket) {
			return walkBucket(ctx, b, string(name), false, nil, &n)
		}
		return walkBucket(ctx, b, string(name), sealed, recordDecoders[string(name)], &n)
	})
}

// walkBucket reads every record of b (and of buckets inside it): sealed
// records' checksums are checked, and decode (when not nil) decodes each
// document.
func walkBucket(ctx context.Context, b *bolt.Bucket, name string, sealed bool, decode func([]byte) error, n *int) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if *n++; *n%256 == 0 || *n == 1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if v == nil { // a nested bucket
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("bucket %s: key %q has no value and is no bucket", name, k)
			}
			if err := walkBucket(ctx, child, name+"/"+string(k), sealed, nil, n); err != nil {
				return err
			}
			continue
		}
		doc := v
		if sealed {
			var err error
			if doc, err = openRecord(v); err != nil {
				return fmt.Errorf("bucket %s: record %q: %w", name, k, err)
			}
		}
		if decode != nil {
			if err := decode(doc); err != nil {
				return fmt.Errorf("bucket %s: record %q: %w", name, k, err)
			}
		}
	}
	return nil
}

// VerifyFile checks a state file (a backup, say) as the local ELB checks
// its own at start, within timeout (0: DefaultCheckTimeout), without
// changing it: it must be complete, consistent, decodable, and of a
// schema this version knows.
func VerifyFile(ctx context.Context, path string, timeout time.Duration) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if info.Size() == 0 {
		return damaged(path, "is empty (0 bytes)")
	}
	db, err := openBolt(path, true)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := verify(vctx, db, path); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			go db.Close() // once bbolt's check, still reading, ends
			return fmt.Errorf("%w (the check is bounded by %s)", err, timeout)
		}
		db.Close()
		return err
	}
	defer db.Close()
	return protect(func() error {
		return db.View(func(tx *bolt.Tx) error {
			_, err := checkSchema(tx, path)
			return err
		})
	})
}

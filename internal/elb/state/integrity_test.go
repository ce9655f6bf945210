package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state/statetest"
)

// populate writes n target records and a load balancer whose name is
// marker into a new store in dir, and closes it.
func populate(t testing.TB, dir string, n int, marker string) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), func(tx *Tx) error {
		if err := Put(tx, LoadBalancers, &LoadBalancer{ARN: "arn:lb/" + marker, Name: marker, Type: "application"}); err != nil {
			return err
		}
		for i := range n {
			if err := Put(tx, Targets, &Target{TargetGroupARN: "arn:tg/a", ID: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), Port: 80}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantRefused checks that opening dir fails with a *DamagedError naming
// the file, the problem and the remedy, and leaves the file as it was
// and the directory unlocked.
func wantRefused(t *testing.T, dir, problem string) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err == nil {
		s.Close()
		t.Fatal("a damaged state file was opened")
	}
	var de *DamagedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) {
		t.Fatalf("error %v (%T) is not a DamagedError", err, err)
	}
	t.Logf("refused: %v", err)
	for _, want := range []string{path, problem, "elbow elb restore --state-dir " + dir, "move the file away"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the refused state file was changed")
	}
	l, err := lockDir(dir)
	if err != nil {
		t.Fatalf("the directory is still locked after the refusal: %v", err)
	}
	l.release()
}

// TestOpenRefusesDamageInTheMiddle reproduces the first failure:
// 64 bytes flipped at half the file's length, in a page that holds data.
func TestOpenRefusesDamageInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 3000, "web")
	statetest.FlipMiddle(t, filepath.Join(dir, FileName))
	wantRefused(t, dir, "is damaged")
}

// TestOpenRefusesTruncatedFile reproduces the second: the file cut to
// half its length, which made bbolt panic at start.
func TestOpenRefusesTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 3000, "web")
	statetest.TruncateHalf(t, filepath.Join(dir, FileName))
	wantRefused(t, dir, "is truncated")
}

// TestOpenRefusesEmptyFile reproduces the third: a zero-length file,
// which used to start as an empty cloud.
func TestOpenRefusesEmptyFile(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 10, "web")
	path := filepath.Join(dir, FileName)
	statetest.Empty(t, path)
	wantRefused(t, dir, "is empty (0 bytes)")
	if info, err := os.Stat(path); err != nil || info.Size() != 0 {
		t.Error("the empty file was initialised")
	}
}

// TestOpenRefusesDamagedRecord: bytes changed inside a record's JSON
// keep bbolt's structure intact; the record's checksum finds them.
func TestOpenRefusesDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 10, "marker-of-the-record")
	path := filepath.Join(dir, FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(raw, []byte(`"name":"marker-of-the-record"`))
	if at < 0 {
		t.Fatal("test setup: the record is not in the file")
	}
	// "marker" -> "market": valid JSON, wrong content
	raw[at+len(`"name":"marke`)] = 't'
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, dir, "checksum")
}

func TestOpenRefusesAFileOfAnotherKind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	wantRefused(t, dir, "not a local ELB state file")

	if err := os.WriteFile(path, bytes.Repeat([]byte("not bbolt "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, dir, "no valid bbolt meta page")
}

func TestOpenCheckIsBounded(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 10, "web")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := OpenWith(ctx, dir, Options{CheckTimeout: time.Hour})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "bounded by 1h0m0s") {
		t.Fatalf("open with its check cut short = %v, want the cancellation and the bound", err)
	}
	// the store is released once the check has stopped
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := Open(dir)
		if err == nil {
			s.Close()
			break
		}
		var inUse *InUseError
		if !errors.As(err, &inUse) || time.Now().After(deadline) {
			t.Fatalf("reopen after a cut-short check: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second open = %v, want an InUseError", err)
	}
	if inUse.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory and the holder's pid %d", err, os.Getpid())
	}
	if err := s.SetControl("/run/x.sock"); err != nil {
		t.Fatal(err)
	}
	if h, err := ReadHolder(dir); err != nil || h.Control != "/run/x.sock" || h.PID != os.Getpid() {
		t.Errorf("holder = %+v, %v", h, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	s.Close()
}

// wantUnavailable checks that err is the failed store's answer.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var ae *awserr.Error
	if !errors.As(err, &ae) || ae.Code != "ServiceUnavailable" || ae.HTTPStatus() != 503 || !errors.Is(err, ErrDamaged) {
		t.Fatalf("%s = %v, want ServiceUnavailable (503) wrapping the damage", what, err)
	}
}

// TestDamageWhileServingFailsTheStore damages the file under an open
// store: the snapshot fails, the store reports it (Err), writes are
// refused with ServiceUnavailable, and nothing panics, Close included.
func TestDamageWhileServingFailsTheStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		// locate returns where to flip how many bytes of the closed file
		locate func(t *testing.T, path string, raw []byte) (int64, int)
	}{
		{"record", func(t *testing.T, path string, raw []byte) (int64, int) {
			return statetest.RecordOffset(t, path, `"name":"marker-of-the-record"`) + 10, 1
		}},
		{"page", func(t *testing.T, path string, raw []byte) (int64, int) {
			mid := int64(len(raw) / 2)
			if typ := statetest.PageType(t, path, mid); typ != "leaf" && typ != "branch" {
				t.Fatalf("test setup: the page at half the file is %q", typ)
			}
			return mid, 64
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			populate(t, dir, 3000, "marker-of-the-record")
			path := filepath.Join(dir, FileName)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off, n := tc.locate(t, path, raw)
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Snapshot(); err != nil || s.Err() != nil {
				t.Fatalf("sound store: snapshot %v, Err %v", err, s.Err())
			}
			statetest.Flip(t, path, off, n)
			if _, err := s.Snapshot(); err == nil {
				t.Fatal("a snapshot of the damaged file succeeded")
			}
			if !errors.Is(s.Err(), ErrDamaged) || !strings.Contains(s.Err().Error(), path) {
				t.Fatalf("Err() = %v, want the damage, naming %s", s.Err(), path)
			}
			t.Logf("store failed: %v", s.Err())
			err = s.Update(context.Background(), func(tx *Tx) error {
				return Put(tx, VPCs, &VPC{ID: "vpc-1"})
			})
			wantUnavailable(t, "a write to the failed store", err)
			if err := s.Close(); err != nil {
				t.Logf("close: %v", err)
			}
		})
	}
}

// writeVersion0 writes a state file as elbow wrote it before schema
// versions: bare JSON records, no schema key.
func writeVersion0(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte(revisionKey), []byte{0, 0, 0, 0, 0, 0, 0, 7}); err != nil {
			return err
		}
		b, err := tx.CreateBucket([]byte(VPCs.Bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte("vpc-0a"), []byte(`{"id":"vpc-0a","cidr":"10.0.0.0/16"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestMigrationCopiesTheStoreFirst(t *testing.T) {
	dir := t.TempDir()
	writeVersion0(t, dir)
	original, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		v, ok, err := Get(tx, VPCs, "vpc-0a")
		if err != nil || !ok || v.CIDR != "10.0.0.0/16" {
			t.Errorf("migrated record = %+v, %v, %v", v, ok, err)
		}
		if tx.Revision() != 7 {
			t.Errorf("revision after migration = %d, want 7", tx.Revision())
		}
		if got := decodeSchema(tx.GetMeta(schemaKey)); got != SchemaVersion {
			t.Errorf("schema after migration = %d, want %d", got, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	copies, _ := filepath.Glob(filepath.Join(dir, FileName+".schema-0.*"))
	if len(copies) != 1 {
		t.Fatalf("copies before migration: %v, want one", copies)
	}
	if err := VerifyFile(context.Background(), copies[0], 0); err != nil {
		t.Errorf("the copy does not verify: %v", err)
	}
	assertSameContent(t, copies[0], original)
	// a second open has nothing to migrate
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if again, _ := filepath.Glob(filepath.Join(dir, FileName+".schema-*")); len(again) != 1 {
		t.Errorf("a store of the current schema was copied again: %v", again)
	}
}

// assertSameContent compares every bucket and record of a state file
// with those of raw (another state file's bytes).
func assertSameContent(t *testing.T, path string, raw []byte) {
	t.Helper()
	other := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(other, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(t, path), dump(t, other); a != b {
		t.Errorf("content differs:\n%s\nwant:\n%s", a, b)
	}
}

// dump lists every bucket, key and value of a bbolt file.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&b, "%s %q %q\n", name, k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	dir := t.TempDir()
	writeVersion0(t, dir)
	path := filepath.Join(dir, FileName)
	before := dump(t, path)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ms := []migration{
		{From: 0, Describe: "seal", Apply: sealAll},
		{From: 1, Describe: "fails", Apply: func(*Tx) error { return boom }},
	}
	copyPath, err := migrate(db, path, ms, 2, time.Now())
	db.Close()
	if !errors.Is(err, boom) || copyPath == "" || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("migrate = %q, %v; want the failure, and the copy named", copyPath, err)
	}
	if after := dump(t, path); after != before {
		t.Errorf("a failed migration changed the store:\n%s\nwas:\n%s", after, before)
	}
	if dump(t, copyPath) != before {
		t.Error("the copy is not the store as it was")
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, 1, "web")
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put([]byte(schemaKey), encodeSchema(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", SchemaVersion+1)) {
		t.Fatalf("open of a newer schema = %v", err)
	}
}

// TestBackupWhileWritingAndRestore takes an online backup while another
// goroutine writes, restores it into a new directory, and finds there the
// state of one revision, whole.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			// each write adds one VPC and counts it in its tags: a copy of
			// one revision holds as many VPCs as the count says
			err := s.Update(ctx, func(tx *Tx) error {
				if err := Put(tx, VPCs, &VPC{ID: fmt.Sprintf("vpc-%06d", i)}); err != nil {
					return err
				}
				return Put(tx, Tags, &TagSet{Resource: "count", Tags: []Tag{{Key: "n", Value: fmt.Sprint(i + 1)}}})
			})
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "backup.db")
	err = WriteBackupFile(ctx, file, 0, func(w io.Writer) error { _, err := s.Backup(w); return err })
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}

	restored := t.TempDir()
	replaced, err := Restore(ctx, restored, file, 0)
	if err != nil || replaced != "" {
		t.Fatalf("restore into an empty directory = %q, %v", replaced, err)
	}
	r, err := Open(restored)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.View(func(tx *Tx) error {
		vpcs, err := List(tx, VPCs)
		if err != nil {
			return err
		}
		count, ok, err := Get(tx, Tags, "count")
		if err != nil || !ok {
			return fmt.Errorf("count: %v %v", ok, err)
		}
		if fmt.Sprint(len(vpcs)) != count.Tags[0].Value {
			t.Errorf("backup holds %d VPCs but its count says %s: not one revision", len(vpcs), count.Tags[0].Value)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRestoreKeepsTheReplacedFile(t *testing.T) {
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	populate(t, src, 5, "from-backup")
	populate(t, dst, 5, "current")
	backup := filepath.Join(t.TempDir(), "b.db")
	if err := BackupDir(ctx, src, backup, 0); err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile(filepath.Join(dst, FileName))
	if err != nil {
		t.Fatal(err)
	}
	replaced, err := Restore(ctx, dst, backup, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(replaced); err != nil || !bytes.Equal(got, current) {
		t.Errorf("replaced file %s is not the former state (%v)", replaced, err)
	}
	if a, b := dump(t, filepath.Join(dst, FileName)), dump(t, backup); a != b {
		t.Error("restored state differs from the backup")
	}

	// a damaged backup is refused and the state is left alone
	bad := filepath.Join(t.TempDir(), "bad.db")
	raw, _ := os.ReadFile(backup)
	if err := os.WriteFile(bad, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	before := dump(t, filepath.Join(dst, FileName))
	if _, err := Restore(ctx, dst, bad, 0); !errors.Is(err, ErrDamaged) {
		t.Errorf("restore of a truncated backup = %v, want ErrDamaged", err)
	}
	if dump(t, filepath.Join(dst, FileName)) != before {
		t.Error("a refused restore changed the state")
	}

	// a directory in use is neither backed up offline nor restored
	s, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var inUse *InUseError
	if _, err := Restore(ctx, dst, backup, 0); !errors.As(err, &inUse) {
		t.Errorf("restore into a directory in use = %v, want InUseError", err)
	}
	if err := BackupDir(ctx, dst, filepath.Join(t.TempDir(), "x.db"), 0); !errors.As(err, &inUse) {
		t.Errorf("offline backup of a directory in use = %v, want InUseError", err)
	}
}

// FuzzOpenStateFile opens arbitrary bytes as a state file: the result is
// a store or an error, never a panic or a crash.
func FuzzOpenStateFile(f *testing.F) {
	dir := f.TempDir()
	populate(f, dir, 200, "seed")
	valid, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	mid := bytes.Clone(valid)
	for i := len(mid) / 2; i < len(mid)/2+64; i++ {
		mid[i] ^= 0xff
	}
	f.Add(mid)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenWith(context.Background(), dir, Options{CheckTimeout: 10 * time.Second})
		if err != nil {
			return
		}
		_, _ = s.Snapshot()
		_ = s.Close()
	})
}

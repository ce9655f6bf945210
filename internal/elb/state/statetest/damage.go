// Package statetest damages state files as a failing disk or a careless
// hand would, for tests of what the local ELB does then. Each function
// fails the test when the damage cannot be done as described.
package statetest

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FlipMiddle inverts 64 bytes at half the length of the state file at
// path, and checks that they lie in a page that holds data (a branch or a
// leaf of the B+tree), so that the damage is one a reader meets.
func FlipMiddle(t testing.TB, path string) {
	t.Helper()
	mid := size(t, path) / 2
	if typ := PageType(t, path, mid); typ != "leaf" && typ != "branch" {
		t.Fatalf("statetest: the page at half of %s is a %q page, not one that holds data: make the state larger", path, typ)
	}
	Flip(t, path, mid, 64)
}

// Compact rewrites the state file at path without free pages (bbolt's
// Compact), as a restored copy might be, so that its every page but the
// meta and freelist pages holds data. The file must not be open
// elsewhere.
func Compact(t testing.TB, path string) {
	t.Helper()
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".compact"
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		src.Close()
		t.Fatal(err)
	}
	err = bolt.Compact(dst, src, 1<<20)
	src.Close()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TruncateHalf cuts the state file at path to half its length.
func TruncateHalf(t testing.TB, path string) {
	t.Helper()
	if err := os.Truncate(path, size(t, path)/2); err != nil {
		t.Fatal(err)
	}
}

// Empty truncates the state file at path to zero bytes.
func Empty(t testing.TB, path string) {
	t.Helper()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// RecordOffset returns the offset of the first occurrence of marker in
// the file at path (a string inside one record's JSON).
func RecordOffset(t testing.TB, path, marker string) int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(raw, []byte(marker))
	if at < 0 {
		t.Fatalf("statetest: %q is not in %s", marker, path)
	}
	return int64(at)
}

// Flip inverts n bytes of the file at path from off.
func Flip(t testing.TB, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xff
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// PageType returns bbolt's type of the page that holds byte off of the
// state file at path: "leaf", "branch", "free", "freelist" or "meta". The
// file must not be open elsewhere.
func PageType(t testing.TB, path string, off int64) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	target := int(off / int64(db.Info().PageSize))
	typ := ""
	err = db.View(func(tx *bolt.Tx) error {
		// from the first page, span by span (a page and its overflow
		// pages), to the span that holds target
		for id := 0; id <= target; {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil {
				return fmt.Errorf("no page %d", id)
			}
			if id+info.OverflowCount >= target {
				typ = info.Type
				return nil
			}
			id += info.OverflowCount + 1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

func size(t testing.TB, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

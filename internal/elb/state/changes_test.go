package state

import (
	"context"
	"testing"
)

func TestUpdateIfChanged(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	revision := func() uint64 {
		var rev uint64
		if err := s.View(func(tx *Tx) error { rev = tx.Revision(); return nil }); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	ctx := context.Background()
	before := revision()
	if err := s.UpdateIfChanged(ctx, func(tx *Tx) (bool, error) {
		return false, tx.PutMeta("k", []byte("written then rolled back"))
	}); err != nil {
		t.Fatal(err)
	}
	if got := revision(); got != before {
		t.Errorf("an unchanged update moved the revision %d -> %d", before, got)
	}
	var v []byte
	s.View(func(tx *Tx) error { v = tx.GetMeta("k"); return nil })
	if v != nil {
		t.Errorf("an unchanged update kept its write: %q", v)
	}
	if err := s.UpdateIfChanged(ctx, func(tx *Tx) (bool, error) { return true, tx.PutMeta("k", []byte("kept")) }); err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) error { v = tx.GetMeta("k"); return nil })
	if got := revision(); got != before+1 || string(v) != "kept" {
		t.Errorf("a changing update: revision %d (want %d), value %q", got, before+1, v)
	}
}

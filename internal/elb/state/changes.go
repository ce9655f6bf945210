package state

import (
	"context"
	"errors"
)

// errUnchanged rolls back an UpdateIfChanged whose function changed
// nothing.
var errUnchanged = errors.New("state: nothing changed")

// UpdateIfChanged runs fn in a read-write transaction that is committed
// only when fn reports a change: a function that finds everything in
// place (a bootstrap run again with the same input) leaves the store,
// its revision included, as it was.
func (s *Store) UpdateIfChanged(ctx context.Context, fn func(*Tx) (changed bool, err error)) error {
	err := s.Update(ctx, func(tx *Tx) error {
		changed, err := fn(tx)
		if err != nil {
			return err
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

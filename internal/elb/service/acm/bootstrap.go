package acm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Bootstrap creates, in one transaction, the certificates of f that the
// state does not hold yet: issued by the local CA when the facts give no
// PEM, imported otherwise, with their tags. A certificate already present
// is left as it is, so Bootstrap is idempotent.
func Bootstrap(ctx context.Context, store *state.Store, f *facts.Facts) error {
	if f == nil {
		return errors.New("bootstrap certificates: no facts")
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("bootstrap certificates: facts: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	err := store.UpdateIfChanged(ctx, func(tx *state.Tx) (bool, error) {
		created := false
		for _, c := range f.Certificates {
			if _, ok, err := state.Get(tx, state.Certificates, c.ARN); err != nil || ok {
				if err != nil {
					return false, err
				}
				continue
			}
			p := Params{
				ARN: c.ARN, DomainName: c.DomainName, SubjectAlternativeNames: c.SubjectAlternativeNames,
				KeyAlgorithm: c.KeyAlgorithm, Type: c.Type, Status: c.Status,
				CertificatePEM: c.CertificatePEM, PrivateKeyPEM: c.PrivateKeyPEM, ChainPEM: c.ChainPEM,
				Tags: state.SortedTags(c.Tags), Now: now,
			}
			if c.NotAfter != nil {
				p.NotAfter = *c.NotAfter
			}
			if _, err := Provision(tx, p); err != nil {
				return false, fmt.Errorf("certificate %s: %w", c.ARN, err)
			}
			created = true
		}
		return created, nil
	})
	if err != nil {
		return fmt.Errorf("bootstrap certificates: %w", err)
	}
	return nil
}

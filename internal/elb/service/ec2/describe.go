package ec2

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// describeReq is one Describe* request, in the terms every Describe*
// operation shares.
type describeReq[T any] struct {
	// op names the operation (auto-provisioning logs it).
	op     string
	dryRun *bool
	// kind is the kind of the IDs the request names (nil: it names
	// none); ids are those IDs.
	kind *idKind
	ids  []string
	// check checks the rest of the request, after the IDs (nil: nothing
	// more to check).
	check func() error
	// filters are the operation's filters, in the request's Filters.
	filters filterSpec[T]
	in      []types.Filter
	// read renders, in one read transaction, the resources the request
	// names (every one when it names none) and passes each to emit; a
	// missing one is kind's NotFound error.
	read func(tx *state.Tx, emit func(T)) error
	// provision creates the missing resources the request names, with
	// auto-provisioning on (nil: the operation provisions nothing).
	provision func(tx *state.Tx, req *autoprovision.Request) error
	// key orders the results for pagination (nil: one page, no
	// MaxResults); limits are the operation's MaxResults bounds.
	key        func(T) string
	limits     pageLimits
	maxResults *int32
	nextToken  *string
}

// describe runs a Describe* request: the request checked (dry run, ID
// syntax, MaxResults, filters); the resources read, rendered and kept
// where the filters match; missing ones provisioned when
// auto-provisioning is on; the page cut.
func describe[T any](ctx context.Context, s *Service, d describeReq[T]) ([]T, *string, error) {
	if err := dryRun(d.dryRun); err != nil {
		return nil, nil, err
	}
	if d.kind != nil {
		if err := d.kind.checkAll(d.ids); err != nil {
			return nil, nil, err
		}
	}
	if d.check != nil {
		if err := d.check(); err != nil {
			return nil, nil, err
		}
	}
	if d.key != nil {
		if err := checkMaxResults(d.limits, d.maxResults, len(d.ids)); err != nil {
			return nil, nil, err
		}
	}
	match, err := d.filters.compile(d.in)
	if err != nil {
		return nil, nil, err
	}
	var all []T
	read := func(tx *state.Tx) error {
		all = all[:0]
		return d.read(tx, func(v T) {
			if match(&v) {
				all = append(all, v)
			}
		})
	}
	err = s.view(ctx, read)
	if s.prov != nil && d.provision != nil && d.kind != nil && awserr.Is(err, d.kind.notFound) {
		err = s.provision(ctx, d.op, func(tx *state.Tx, req *autoprovision.Request) error {
			if err := d.provision(tx, req); err != nil {
				return provisionErr(err, *d.kind)
			}
			return read(tx)
		})
	}
	if err != nil {
		return nil, nil, err
	}
	if d.key == nil {
		return all, nil, nil
	}
	return paginate(s.tokens.Scope(d.op), all, d.key, d.limits, d.maxResults, d.nextToken, len(d.ids))
}

// renderByID renders the records the IDs name (every record of the kind
// when there are none) and passes each to emit.
func renderByID[R, T any](tx *state.Tx, k state.Kind[R], kind idKind, ids []string, render func(*R) (T, error), emit func(T)) error {
	recs, err := byIDs(tx, k, kind, ids)
	if err != nil {
		return err
	}
	return renderEach(recs, nil, render, emit)
}

// renderEach renders records and passes each to emit; with id set, a
// record named twice (by ID and by name, say) is rendered once.
func renderEach[R, T any](recs []*R, id func(*R) string, render func(*R) (T, error), emit func(T)) error {
	seen := map[string]bool{}
	for _, r := range recs {
		if id != nil {
			if seen[id(r)] {
				continue
			}
			seen[id(r)] = true
		}
		v, err := render(r)
		if err != nil {
			return err
		}
		emit(v)
	}
	return nil
}

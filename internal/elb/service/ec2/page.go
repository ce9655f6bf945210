package ec2

import (
	"sort"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
)

// Pagination: results are ordered by a stable key (the resource ID), and a
// NextToken names the last key returned, so that a token stays valid while
// resources are added or removed and a page never repeats or skips one
// that existed throughout. Tokens are sealed for their operation
// (internal/elb/service/pagetoken): one the service did not issue is
// InvalidNextToken.

// pageLimits are the MaxResults bounds AWS documents for an operation.
type pageLimits struct {
	min, max int32
	// idsParam is the wire name of the ID list that MaxResults may not be
	// combined with ("" when they combine freely).
	idsParam string
}

// checkMaxResults validates MaxResults against the operation's bounds and
// its combination with an ID list.
func checkMaxResults(lim pageLimits, maxResults *int32, nIDs int) error {
	if maxResults == nil {
		return nil
	}
	if lim.idsParam != "" && nIDs > 0 {
		return awserr.New("InvalidParameterCombination", "The parameter %s cannot be used with the parameter maxResults", lim.idsParam)
	}
	n := *maxResults
	if n < lim.min {
		return awserr.New("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value greater than %d.", n, lim.min)
	}
	if n > lim.max {
		return awserr.New("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value less than or equal to %d.", n, lim.max)
	}
	return nil
}

// paginate sorts items by key and returns the page that follows nextToken,
// at most maxResults long (all remaining items when maxResults is nil),
// with the token of the following page (nil on the last page).
func paginate[T any](tokens pagetoken.Scope, items []T, key func(T) string, lim pageLimits, maxResults *int32, nextToken *string, nIDs int) ([]T, *string, error) {
	if err := checkMaxResults(lim, maxResults, nIDs); err != nil {
		return nil, nil, err
	}
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if nextToken != nil && *nextToken != "" {
		after, ok := tokens.Open(*nextToken)
		if !ok {
			return nil, nil, awserr.New("InvalidNextToken", "The specified NextToken is not valid.")
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	rest := items[start:]
	if maxResults == nil || int(*maxResults) >= len(rest) {
		return rest, nil, nil
	}
	page := rest[:*maxResults]
	next := tokens.Seal(key(page[len(page)-1]))
	return page, &next, nil
}

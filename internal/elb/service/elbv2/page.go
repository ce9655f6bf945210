package elbv2

import (
	"sort"

	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
)

// maxPageSize is the largest PageSize ELBv2's Describe operations accept
// (and the page size when none is given).
const maxPageSize = 400

// paginate returns one page of items ordered by key: the items after the
// marker's key, at most pageSize (1–400, default 400) of them, and the
// marker of the next page when more remain. A marker names the last key
// returned, so it stays valid while resources come and go; it is sealed
// for its listing (tokens), which refuses a marker it did not issue.
func paginate[T any](tokens pagetoken.Scope, items []T, key func(T) string, marker *string, pageSize *int32) ([]T, *string, error) {
	size := maxPageSize
	if pageSize != nil {
		if *pageSize < 1 || *pageSize > maxPageSize {
			return nil, nil, outOfRange("pageSize", int64(*pageSize), 1, maxPageSize)
		}
		size = int(*pageSize)
	}
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if marker != nil {
		after, ok := tokens.Open(*marker)
		if !ok {
			return nil, nil, invalidMarker(*marker)
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	end := min(start+size, len(items))
	page := items[start:end]
	if end < len(items) {
		return page, ptr(tokens.Seal(key(items[end-1]))), nil
	}
	return page, nil, nil
}

// invalidMarker refuses a marker this listing did not issue.
func invalidMarker(m string) error {
	return validation("The marker '%s' is not valid: give the NextMarker of a previous call of the same operation", m)
}

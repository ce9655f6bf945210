package elbv2

import (
	"encoding/base64"
	"sort"
)

// maxPageSize is the largest PageSize ELBv2's Describe operations accept
// (and the page size when none is given).
const maxPageSize = 400

// paginate returns one page of items ordered by key: the items after the
// marker's key, at most pageSize (1–400, default 400) of them, and the
// marker of the next page when more remain. A marker names the last key
// returned, so it stays valid while resources come and go.
func paginate[T any](items []T, key func(T) string, marker *string, pageSize *int32) ([]T, *string, error) {
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
		after, err := decodeMarker(*marker)
		if err != nil {
			return nil, nil, err
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	end := min(start+size, len(items))
	page := items[start:end]
	if end < len(items) {
		return page, ptr(encodeMarker(key(items[end-1]))), nil
	}
	return page, nil, nil
}

func encodeMarker(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeMarker(m string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || m == "" {
		return "", validation("The marker '%s' is not valid", m)
	}
	return string(b), nil
}

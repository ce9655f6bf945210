// Package pagetoken makes the pagination tokens of the local ELB's
// services (ELBv2's Marker, EC2's and ACM's NextToken). A token names the
// last key a page returned, so that paging stays stable while resources
// come and go; it is opaque to clients and sealed with a keyed MAC bound
// to the listing it belongs to, so that a token the service did not issue
// (made up, altered, or another operation's) is refused, as AWS refuses
// it, instead of silently restarting the listing.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// macSize is the length of a token's MAC, in bytes.
const macSize = 16

// Sealer seals and opens tokens with one secret key (the state's,
// state.Store.TokenKey, so that tokens survive restarts).
type Sealer struct{ key []byte }

// New returns a Sealer for key.
func New(key []byte) Sealer { return Sealer{key: key} }

// Scope returns the tokens of one listing, named by its operation (for
// example "DescribeTargetGroups").
func (s Sealer) Scope(listing string) Scope { return Scope{key: s.key, listing: listing} }

// Scope seals and opens the tokens of one listing.
type Scope struct {
	key     []byte
	listing string
}

func (sc Scope) mac(last []byte) []byte {
	m := hmac.New(sha256.New, sc.key)
	m.Write([]byte(sc.listing))
	m.Write([]byte{0})
	m.Write(last)
	return m.Sum(nil)[:macSize]
}

// Seal returns the token of a page whose last key is last.
func (sc Scope) Seal(last string) string {
	b := append([]byte(last), sc.mac([]byte(last))...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Open returns the last key a token names; ok is false for a token this
// listing did not issue.
func (sc Scope) Open(token string) (last string, ok bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < macSize {
		return "", false
	}
	key, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(mac, sc.mac(key)) {
		return "", false
	}
	return string(key), true
}

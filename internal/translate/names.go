package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
)

// The pieces of the names the reference controller gives AWS resources
// (k8s-<namespace>-<name>-<hash>, k8s-traffic-<cluster>-<hash>): the
// translators build every name from them.

var nonAlnum = regexp.MustCompile("[^A-Za-z0-9]")

// Sanitize drops every character that is not a letter or digit, as the
// reference does for names.
func Sanitize(s string) string { return nonAlnum.ReplaceAllString(s, "") }

// Hash returns the lowercase hex SHA-256 of the concatenated parts.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Trunc returns at most n bytes of s (Go's %.Ns on ASCII).
func Trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// BackendSecurityGroupName is the name of a cluster's shared backend
// security group: k8s-traffic-<cluster>-<hash>.
func BackendSecurityGroupName(clusterName string) string {
	return fmt.Sprintf("k8s-traffic-%s-%s", Trunc(Sanitize(clusterName), 232), Trunc(Hash(clusterName), 10))
}

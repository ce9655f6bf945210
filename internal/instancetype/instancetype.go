// Package instancetype holds the network limits of EC2 instance types as
// AWS documents them (DescribeInstanceTypes NetworkInfo: maximum network
// interfaces, IPv4 addresses per interface), for the instance types the
// local cloud runs, and the pod limit Amazon EKS derives from them for the
// AWS VPC CNI.
package instancetype

import (
	"fmt"
	"sort"
	"strings"
)

// Limits are an instance type's network limits.
type Limits struct {
	// NetworkInterfaces is the most network interfaces an instance can
	// have attached, the primary one included.
	NetworkInterfaces int
	// IPv4PerInterface is the most private IPv4 addresses a network
	// interface of the instance can have, the primary one included.
	IPv4PerInterface int
}

// table is AWS's NetworkInfo for the instance types the local cloud knows
// (the values the AWS VPC CNI's generated limits table holds as well).
var table = map[string]Limits{
	"m1.small":  {2, 4},
	"t2.micro":  {2, 2},
	"t3.micro":  {2, 2},
	"t3.small":  {3, 4},
	"t3.medium": {3, 6},
	"t3.large":  {3, 12},
	"m5.large":  {3, 10},
	"m5.xlarge": {4, 15},
	"m6i.large": {3, 10},
	"c5.large":  {3, 10},
	"c5.xlarge": {4, 15},
}

// Lookup returns an instance type's limits, or an error naming the types
// known.
func Lookup(name string) (Limits, error) {
	l, ok := table[name]
	if !ok {
		return Limits{}, fmt.Errorf("instance type %q: its network limits are not known here (known: %s)", name, strings.Join(Names(), ", "))
	}
	return l, nil
}

// Names returns the known instance types, sorted.
func Names() []string {
	out := make([]string, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MaxPods is the pod limit Amazon EKS sets on a node of these limits with
// the AWS VPC CNI without prefix delegation: one pod per secondary address
// of every interface, plus two host-network pods (the CNI's and
// kube-proxy's).
func (l Limits) MaxPods() int { return l.NetworkInterfaces*(l.IPv4PerInterface-1) + 2 }

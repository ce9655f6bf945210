package ec2

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// idKind describes one kind of EC2 resource ID: its prefix and the error
// codes AWS answers a malformed or unknown one with. AWS's spelling of the
// codes is not uniform (InvalidVpcID.Malformed but InvalidGroupId.Malformed,
// InvalidRouteTableID.NotFound but InvalidRouteTableId.Malformed), so each
// is written out.
type idKind struct {
	prefix    string
	malformed string
	notFound  string
	// noun is how AWS names the resource in "The <noun> ID 'x' does not
	// exist".
	noun string
}

var (
	vpcID      = idKind{"vpc", "InvalidVpcID.Malformed", "InvalidVpcID.NotFound", "vpc"}
	subnetID   = idKind{"subnet", "InvalidSubnetID.Malformed", "InvalidSubnetID.NotFound", "subnet"}
	groupID    = idKind{"sg", "InvalidGroupId.Malformed", "InvalidGroup.NotFound", "security group"}
	ruleID     = idKind{"sgr", "InvalidSecurityGroupRuleId.Malformed", "InvalidSecurityGroupRuleId.NotFound", "security group rule"}
	instanceID = idKind{"i", "InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound", "instance"}
	eniID      = idKind{"eni", "InvalidNetworkInterfaceId.Malformed", "InvalidNetworkInterfaceID.NotFound", "networkInterface"}
	routeID    = idKind{"rtb", "InvalidRouteTableId.Malformed", "InvalidRouteTableID.NotFound", "routeTable"}
	igwID      = idKind{"igw", "InvalidInternetGatewayId.Malformed", "InvalidInternetGatewayID.NotFound", "internetGateway"}
	allocID    = idKind{"eipalloc", "InvalidAllocationID.Malformed", "InvalidAllocationID.NotFound", "allocation"}
)

// taggable lists the kinds whose resources carry tags, by prefix.
var taggable = []idKind{vpcID, subnetID, groupID, ruleID, instanceID, eniID, routeID, igwID, allocID}

// idBody is what may follow the prefix: AWS's IDs are 8 or 17 hex digits;
// facts files may use shorter hand-written IDs, so any run of letters and
// digits is accepted.
var idBody = regexp.MustCompile(`^[0-9A-Za-z]+$`)

// wellFormed reports whether id has the kind's prefix and a valid body.
func (k idKind) wellFormed(id string) bool {
	body, ok := strings.CutPrefix(id, k.prefix+"-")
	return ok && idBody.MatchString(body)
}

// check returns the Malformed error for an ID that is not of the kind.
func (k idKind) check(id string) error {
	if !k.wellFormed(id) {
		return awserr.New(k.malformed, "Invalid id: \"%s\" (expecting \"%s-...\")", id, k.prefix)
	}
	return nil
}

// checkAll validates a list of IDs.
func (k idKind) checkAll(ids []string) error {
	for _, id := range ids {
		if err := k.check(id); err != nil {
			return err
		}
	}
	return nil
}

// missing returns the NotFound error for IDs that do not exist, worded as
// AWS words it: "The subnet ID 'subnet-1' does not exist", "The instance
// IDs 'i-1, i-2' do not exist".
func (k idKind) missing(ids ...string) error {
	switch {
	case k == groupID:
		return awserr.New(k.notFound, "The security group '%s' does not exist", ids[0])
	case len(ids) == 1:
		return awserr.New(k.notFound, "The %s ID '%s' does not exist", k.noun, ids[0])
	default:
		return awserr.New(k.notFound, "The %s IDs '%s' do not exist", k.noun, strings.Join(ids, ", "))
	}
}

// kindOf returns the taggable kind of a resource ID.
func kindOf(id string) (idKind, bool) {
	for _, k := range taggable {
		if k.wellFormed(id) {
			return k, true
		}
	}
	return idKind{}, false
}

// newID returns a fresh ID of AWS's long form: prefix, a dash and 17 hex
// digits.
func newID(prefix string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// dedupe returns ids without repeats, in order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

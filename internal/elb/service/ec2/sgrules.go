package ec2

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Security group rules are stored one source per state.SGRule, as AWS's
// security group rules (sgr-…) are, and rendered back grouped by protocol
// and port range into IpPermissions as DescribeSecurityGroups shows them.

// sgText is the character set AWS allows in security group names,
// descriptions and rule descriptions of a VPC.
var sgText = regexp.MustCompile(`^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$`)

// normProtocol returns the canonical form of an IP protocol: tcp, udp,
// icmp, icmpv6, -1 (all), or another protocol number.
func normProtocol(p string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	case "-1", "all":
		return "-1", nil
	}
	if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
		return strconv.Itoa(n), nil
	}
	return "", awserr.New("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
}

// normPorts validates a rule's port range (ICMP type and code for icmp
// and icmpv6) and returns what is stored: -1/-1 for protocols without
// ports.
func normPorts(proto string, from, to *int32) (int32, int32, error) {
	switch proto {
	case "tcp", "udp":
		if from == nil || to == nil {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
		f, t := *from, *to
		if f < 0 || f > 65535 || t < 0 || t > 65535 {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid value for portRange. Ports must be between 0 and 65535, got %d-%d.", f, t)
		}
		if f > t {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid TCP/UDP port range: from port %d is greater than to port %d.", f, t)
		}
		return f, t, nil
	case "icmp", "icmpv6":
		if proto == "icmp" && (from == nil || to == nil) {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with ICMP.")
		}
		f, t := int32(-1), int32(-1)
		if from != nil {
			f = *from
		}
		if to != nil {
			t = *to
		}
		if f < -1 || f > 255 || t < -1 || t > 255 {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid ICMP type or code: type %d, code %d (each must be -1 to 255).", f, t)
		}
		if f == -1 && t != -1 {
			return 0, 0, awserr.New("InvalidParameterValue", "Invalid ICMP code %d: with all ICMP types (-1), the code must be -1.", t)
		}
		return f, t, nil
	default:
		return -1, -1, nil
	}
}

func checkRuleDescription(d *string) error {
	if d == nil {
		return nil
	}
	if len(*d) > 255 || !sgText.MatchString(*d) {
		return awserr.New("InvalidParameterValue", "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*")
	}
	return nil
}

// canonicalCIDR parses a CIDR of the given family and returns it with the
// host bits cleared, as AWS stores it.
func canonicalCIDR(s string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || p.Addr().Is4() == v6 || p.Addr().Zone() != "" {
		return "", awserr.New("InvalidParameterValue", "CIDR block %s is malformed", s)
	}
	return p.Masked().String(), nil
}

// groupResolver finds the security group a rule references by ID, or by
// name in the rule's VPC.
type groupResolver func(id, name string) (string, error)

// rulesFromPermissions expands IpPermissions into one rule per source.
// Rules come back without IDs.
func rulesFromPermissions(perms []types.IpPermission, egress bool, resolve groupResolver) ([]state.SGRule, error) {
	var out []state.SGRule
	for _, p := range perms {
		proto, err := normProtocol(deref(p.IpProtocol))
		if err != nil {
			return nil, err
		}
		from, to, err := normPorts(proto, p.FromPort, p.ToPort)
		if err != nil {
			return nil, err
		}
		base := state.SGRule{Egress: egress, Protocol: proto, FromPort: from, ToPort: to}
		n := len(out)
		for _, r := range p.IpRanges {
			c, err := canonicalCIDR(deref(r.CidrIp), false)
			if err != nil {
				return nil, err
			}
			if err := checkRuleDescription(r.Description); err != nil {
				return nil, err
			}
			rule := base
			rule.CIDRIPv4, rule.Description = c, deref(r.Description)
			out = append(out, rule)
		}
		for _, r := range p.Ipv6Ranges {
			c, err := canonicalCIDR(deref(r.CidrIpv6), true)
			if err != nil {
				return nil, err
			}
			if err := checkRuleDescription(r.Description); err != nil {
				return nil, err
			}
			rule := base
			rule.CIDRIPv6, rule.Description = c, deref(r.Description)
			out = append(out, rule)
		}
		for _, r := range p.PrefixListIds {
			id := deref(r.PrefixListId)
			if !strings.HasPrefix(id, "pl-") {
				return nil, awserr.New("InvalidPrefixListId.Malformed", "Invalid id: \"%s\" (expecting \"pl-...\")", id)
			}
			if err := checkRuleDescription(r.Description); err != nil {
				return nil, err
			}
			rule := base
			rule.PrefixListID, rule.Description = id, deref(r.Description)
			out = append(out, rule)
		}
		for _, g := range p.UserIdGroupPairs {
			id, err := resolve(deref(g.GroupId), deref(g.GroupName))
			if err != nil {
				return nil, err
			}
			if err := checkRuleDescription(g.Description); err != nil {
				return nil, err
			}
			rule := base
			rule.SourceGroupID, rule.Description = id, deref(g.Description)
			out = append(out, rule)
		}
		if len(out) == n {
			return nil, awserr.New("MissingParameter", "Each IP permission must specify a source or destination: IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs")
		}
	}
	return out, nil
}

// ruleKey is what makes two rules the same rule: direction, protocol, port
// range and source. The description is not part of it.
func ruleKey(r state.SGRule) string {
	return fmt.Sprintf("%t|%s|%d|%d|%s|%s|%s|%s", r.Egress, r.Protocol, r.FromPort, r.ToPort, r.CIDRIPv4, r.CIDRIPv6, r.PrefixListID, r.SourceGroupID)
}

func rulePeer(r state.SGRule) string {
	switch {
	case r.CIDRIPv4 != "":
		return r.CIDRIPv4
	case r.CIDRIPv6 != "":
		return r.CIDRIPv6
	case r.PrefixListID != "":
		return r.PrefixListID
	}
	return r.SourceGroupID
}

// ruleString renders a rule as AWS's InvalidPermission.Duplicate message
// does: "peer: 0.0.0.0/0, TCP, from port: 80, to port: 80, ALLOW".
func ruleString(r state.SGRule) string {
	switch r.Protocol {
	case "-1":
		return fmt.Sprintf("peer: %s, ALL, ALLOW", rulePeer(r))
	case "tcp", "udp", "icmp", "icmpv6":
		return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", rulePeer(r), strings.ToUpper(r.Protocol), r.FromPort, r.ToPort)
	}
	return fmt.Sprintf("peer: %s, protocol: %s, ALLOW", rulePeer(r), r.Protocol)
}

// countRules counts a group's rules of one direction against the quota,
// which AWS applies separately to IPv4 and IPv6 rules; a rule that
// references a security group or a prefix list counts for both.
func countRules(rules []state.SGRule, egress bool) (v4, v6 int) {
	for _, r := range rules {
		if r.Egress != egress {
			continue
		}
		switch {
		case r.CIDRIPv4 != "":
			v4++
		case r.CIDRIPv6 != "":
			v6++
		default:
			v4++
			v6++
		}
	}
	return v4, v6
}

func hasPorts(proto string) bool {
	switch proto {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}

// permissions groups rules of one direction into IpPermissions, in order
// of first appearance.
func permissions(rules []state.SGRule, egress bool, account string) []types.IpPermission {
	out := []types.IpPermission{}
	index := map[string]int{}
	for _, r := range rules {
		if r.Egress != egress {
			continue
		}
		k := fmt.Sprintf("%s|%d|%d", r.Protocol, r.FromPort, r.ToPort)
		i, ok := index[k]
		if !ok {
			p := types.IpPermission{
				IpProtocol:       aws.String(r.Protocol),
				IpRanges:         []types.IpRange{},
				Ipv6Ranges:       []types.Ipv6Range{},
				PrefixListIds:    []types.PrefixListId{},
				UserIdGroupPairs: []types.UserIdGroupPair{},
			}
			if hasPorts(r.Protocol) {
				p.FromPort, p.ToPort = aws.Int32(r.FromPort), aws.Int32(r.ToPort)
			}
			out = append(out, p)
			i = len(out) - 1
			index[k] = i
		}
		p := &out[i]
		desc := optional(r.Description)
		switch {
		case r.CIDRIPv4 != "":
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(r.CIDRIPv4), Description: desc})
		case r.CIDRIPv6 != "":
			p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(r.CIDRIPv6), Description: desc})
		case r.PrefixListID != "":
			p.PrefixListIds = append(p.PrefixListIds, types.PrefixListId{PrefixListId: aws.String(r.PrefixListID), Description: desc})
		case r.SourceGroupID != "":
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(r.SourceGroupID), UserId: aws.String(account), Description: desc})
		}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func ruleARN(region, account, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:security-group-rule/%s", region, account, id)
}

// sdkRule renders one stored rule as a SecurityGroupRule.
func (s *Service) sdkRule(g *state.SecurityGroup, r state.SGRule, tags []types.Tag) types.SecurityGroupRule {
	out := types.SecurityGroupRule{
		SecurityGroupRuleId:  aws.String(r.ID),
		SecurityGroupRuleArn: aws.String(ruleARN(s.region, owner(g.OwnerID, s.account), r.ID)),
		GroupId:              aws.String(g.ID),
		GroupOwnerId:         aws.String(owner(g.OwnerID, s.account)),
		IsEgress:             aws.Bool(r.Egress),
		IpProtocol:           aws.String(r.Protocol),
		FromPort:             aws.Int32(r.FromPort),
		ToPort:               aws.Int32(r.ToPort),
		CidrIpv4:             optional(r.CIDRIPv4),
		CidrIpv6:             optional(r.CIDRIPv6),
		PrefixListId:         optional(r.PrefixListID),
		Description:          optional(r.Description),
		Tags:                 tags,
	}
	if r.SourceGroupID != "" {
		out.ReferencedGroupInfo = &types.ReferencedSecurityGroup{GroupId: aws.String(r.SourceGroupID), UserId: aws.String(s.account)}
	}
	return out
}

// findRule returns the group holding a rule ID.
func findRule(tx *state.Tx, id string) (*state.SecurityGroup, bool, error) {
	var found *state.SecurityGroup
	err := state.ForEachPrefix(tx, state.SecurityGroups, "", func(g *state.SecurityGroup) error {
		for _, r := range g.Rules {
			if r.ID == id {
				found = g
			}
		}
		return nil
	})
	return found, found != nil, err
}

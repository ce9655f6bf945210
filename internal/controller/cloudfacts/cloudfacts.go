// Package cloudfacts reads the facts translation needs (the cluster's VPC,
// its subnets with their zones, tags and reachability, its security
// groups, the ACM certificates and the Elastic IPs) from the EC2 and ACM
// APIs, and keeps them fresh for the reconcilers.
//
// It is elbow's one reader of cloud facts at run time: `elbow plan` reads
// the same model from a file, the controller reads it from AWS or a local
// ELB through the SDK.
package cloudfacts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/facts"
)

// EC2 is the part of the EC2 API the reader calls.
type EC2 interface {
	ec2.DescribeVpcsAPIClient
	ec2.DescribeSubnetsAPIClient
	ec2.DescribeSecurityGroupsAPIClient
	ec2.DescribeRouteTablesAPIClient
	DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
}

// ACM is the part of the ACM API the reader calls.
type ACM interface {
	acm.ListCertificatesAPIClient
	DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput, opts ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

// Reader reads and caches facts.
type Reader struct {
	EC2 EC2
	// ACM may be nil: no certificate discovery.
	ACM ACM
	// Region, AccountID and ClusterName go into the facts as they are.
	Region, AccountID, ClusterName string
	// VpcID is --aws-vpc-id; empty: the only VPC whose subnets carry the
	// cluster tag, else the only VPC.
	VpcID string
	// Refresh is how long facts are reused (default 10 minutes).
	Refresh time.Duration
	Logger  *slog.Logger

	mu    sync.Mutex
	cur   *facts.Facts
	read  time.Time
	certs map[string]facts.Certificate // by ARN: certificates do not change
}

// Facts returns the cached facts, reading them again when older than
// Refresh or when force is set.
func (r *Reader) Facts(ctx context.Context, force bool) (*facts.Facts, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	refresh := r.Refresh
	if refresh <= 0 {
		refresh = 10 * time.Minute
	}
	if r.cur != nil && !force && time.Since(r.read) < refresh {
		return r.cur, nil
	}
	f, err := r.readAll(ctx)
	if err != nil {
		if r.cur != nil {
			if r.Logger != nil {
				r.Logger.Warn("reading cloud facts failed; using the previous ones", "error", err, "age", time.Since(r.read).Round(time.Second))
			}
			return r.cur, nil
		}
		return nil, err
	}
	r.cur, r.read = f, time.Now()
	return f, nil
}

func (r *Reader) readAll(ctx context.Context) (*facts.Facts, error) {
	f := &facts.Facts{Region: r.Region, AccountID: r.AccountID, ClusterName: r.ClusterName}
	empty := ""
	f.AddressMap = &empty // addresses are used as the APIs report them
	vpc, err := r.vpc(ctx)
	if err != nil {
		return nil, err
	}
	f.VPCs = []facts.VPC{vpc}
	if f.Subnets, err = r.subnets(ctx, vpc.ID); err != nil {
		return nil, err
	}
	if f.SecurityGroups, err = r.securityGroups(ctx, vpc.ID); err != nil {
		return nil, err
	}
	if f.ElasticIPs, err = r.elasticIPs(ctx); err != nil {
		return nil, err
	}
	if r.ACM != nil {
		if f.Certificates, err = r.certificates(ctx); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (r *Reader) vpc(ctx context.Context) (facts.VPC, error) {
	in := &ec2.DescribeVpcsInput{}
	if r.VpcID != "" {
		in.VpcIds = []string{r.VpcID}
	}
	var vpcs []ec2types.Vpc
	p := ec2.NewDescribeVpcsPaginator(r.EC2, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return facts.VPC{}, fmt.Errorf("describe VPCs: %w", err)
		}
		vpcs = append(vpcs, out.Vpcs...)
	}
	switch {
	case len(vpcs) == 1:
		return toVPC(vpcs[0]), nil
	case len(vpcs) == 0 && r.VpcID != "":
		return facts.VPC{}, fmt.Errorf("--aws-vpc-id %s: no such VPC", r.VpcID)
	case len(vpcs) == 0:
		return facts.VPC{}, errors.New("no VPC found: set --aws-vpc-id")
	}
	// Several VPCs: the one whose subnets carry the cluster tag.
	if r.ClusterName != "" {
		out, err := r.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{
			Name: aws.String("tag-key"), Values: []string{"kubernetes.io/cluster/" + r.ClusterName},
		}}})
		if err != nil {
			return facts.VPC{}, fmt.Errorf("describe subnets tagged for cluster %s: %w", r.ClusterName, err)
		}
		ids := map[string]bool{}
		for _, s := range out.Subnets {
			ids[aws.ToString(s.VpcId)] = true
		}
		if len(ids) == 1 {
			for _, v := range vpcs {
				if ids[aws.ToString(v.VpcId)] {
					return toVPC(v), nil
				}
			}
		}
	}
	ids := make([]string, len(vpcs))
	for i, v := range vpcs {
		ids[i] = aws.ToString(v.VpcId)
	}
	return facts.VPC{}, fmt.Errorf("%d VPCs (%s) and none singled out by subnets tagged kubernetes.io/cluster/%s: set --aws-vpc-id", len(vpcs), strings.Join(ids, ", "), r.ClusterName)
}

func toVPC(v ec2types.Vpc) facts.VPC {
	out := facts.VPC{ID: aws.ToString(v.VpcId), CIDR: aws.ToString(v.CidrBlock), Tags: tagMap(v.Tags)}
	for _, a := range v.Ipv6CidrBlockAssociationSet {
		if a.Ipv6CidrBlock != nil {
			out.IPv6CIDR = aws.ToString(a.Ipv6CidrBlock)
			break
		}
	}
	return out
}

func (r *Reader) subnets(ctx context.Context, vpcID string) ([]facts.Subnet, error) {
	vpcFilter := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}
	public, err := r.publicSubnets(ctx, vpcFilter)
	if err != nil {
		return nil, err
	}
	var out []facts.Subnet
	p := ec2.NewDescribeSubnetsPaginator(r.EC2, &ec2.DescribeSubnetsInput{Filters: vpcFilter})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe subnets of %s: %w", vpcID, err)
		}
		for _, s := range page.Subnets {
			out = append(out, toSubnet(s, public))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// toSubnet converts an EC2 subnet; public says whether a subnet's route
// table reaches an internet gateway.
func toSubnet(s ec2types.Subnet, public func(string) bool) facts.Subnet {
	id := aws.ToString(s.SubnetId)
	sn := facts.Subnet{
		ID:                 id,
		VpcID:              aws.ToString(s.VpcId),
		AvailabilityZone:   aws.ToString(s.AvailabilityZone),
		AvailabilityZoneID: aws.ToString(s.AvailabilityZoneId),
		CIDR:               aws.ToString(s.CidrBlock),
		Public:             public(id),
		Tags:               tagMap(s.Tags),
	}
	for _, a := range s.Ipv6CidrBlockAssociationSet {
		if a.Ipv6CidrBlock != nil {
			sn.IPv6CIDR = aws.ToString(a.Ipv6CidrBlock)
			break
		}
	}
	return sn
}

// publicSubnets reads the VPC's route tables: a subnet is public when its
// route table (its own, else the main one) routes to an internet gateway.
func (r *Reader) publicSubnets(ctx context.Context, vpcFilter []ec2types.Filter) (func(string) bool, error) {
	explicit := map[string]bool{}
	mainPublic := false
	p := ec2.NewDescribeRouteTablesPaginator(r.EC2, &ec2.DescribeRouteTablesInput{Filters: vpcFilter})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe route tables: %w", err)
		}
		for _, rt := range page.RouteTables {
			igw := false
			for _, route := range rt.Routes {
				if strings.HasPrefix(aws.ToString(route.GatewayId), "igw-") {
					igw = true
				}
			}
			for _, a := range rt.Associations {
				if aws.ToBool(a.Main) {
					mainPublic = igw
				} else if a.SubnetId != nil {
					explicit[*a.SubnetId] = igw
				}
			}
		}
	}
	return func(id string) bool {
		if v, ok := explicit[id]; ok {
			return v
		}
		return mainPublic
	}, nil
}

func (r *Reader) securityGroups(ctx context.Context, vpcID string) ([]facts.SecurityGroup, error) {
	var out []facts.SecurityGroup
	p := ec2.NewDescribeSecurityGroupsPaginator(r.EC2, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe security groups of %s: %w", vpcID, err)
		}
		for _, g := range page.SecurityGroups {
			out = append(out, toSecurityGroup(g))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func toSecurityGroup(g ec2types.SecurityGroup) facts.SecurityGroup {
	return facts.SecurityGroup{
		ID:          aws.ToString(g.GroupId),
		Name:        aws.ToString(g.GroupName),
		Description: aws.ToString(g.Description),
		VpcID:       aws.ToString(g.VpcId),
		Tags:        tagMap(g.Tags),
		Ingress:     rules(g.IpPermissions),
	}
}

func rules(perms []ec2types.IpPermission) []facts.Rule {
	var out []facts.Rule
	for _, p := range perms {
		proto := aws.ToString(p.IpProtocol)
		switch proto {
		case "6":
			proto = "tcp"
		case "17":
			proto = "udp"
		case "1":
			proto = "icmp"
		case "58":
			proto = "icmpv6"
		}
		base := facts.Rule{Protocol: proto, FromPort: aws.ToInt32(p.FromPort), ToPort: aws.ToInt32(p.ToPort)}
		if proto == "-1" {
			base.FromPort, base.ToPort = 0, 0
		}
		for _, rg := range p.IpRanges {
			r := base
			r.CIDR, r.Description = aws.ToString(rg.CidrIp), aws.ToString(rg.Description)
			out = append(out, r)
		}
		for _, rg := range p.Ipv6Ranges {
			r := base
			r.CIDR, r.Description = aws.ToString(rg.CidrIpv6), aws.ToString(rg.Description)
			out = append(out, r)
		}
		for _, g := range p.UserIdGroupPairs {
			r := base
			r.SourceGroupID, r.Description = aws.ToString(g.GroupId), aws.ToString(g.Description)
			out = append(out, r)
		}
	}
	return out
}

func (r *Reader) elasticIPs(ctx context.Context) ([]facts.ElasticIP, error) {
	out, err := r.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return nil, fmt.Errorf("describe addresses: %w", err)
	}
	var eips []facts.ElasticIP
	for _, a := range out.Addresses {
		if a.AllocationId == nil {
			continue
		}
		eips = append(eips, facts.ElasticIP{AllocationID: *a.AllocationId, Tags: tagMap(a.Tags)})
	}
	sort.Slice(eips, func(i, j int) bool { return eips[i].AllocationID < eips[j].AllocationID })
	return eips, nil
}

// certificates lists the issued certificates and describes the ones not
// seen before (their domains do not change).
func (r *Reader) certificates(ctx context.Context) ([]facts.Certificate, error) {
	if r.certs == nil {
		r.certs = map[string]facts.Certificate{}
	}
	var out []facts.Certificate
	p := acm.NewListCertificatesPaginator(r.ACM, &acm.ListCertificatesInput{
		CertificateStatuses: []acmtypes.CertificateStatus{acmtypes.CertificateStatusIssued},
		Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{
			acmtypes.KeyAlgorithmRsa1024, acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmRsa3072, acmtypes.KeyAlgorithmRsa4096,
			acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmEcSecp384r1, acmtypes.KeyAlgorithmEcSecp521r1,
		}},
	})
	seen := map[string]bool{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list certificates: %w", err)
		}
		for _, s := range page.CertificateSummaryList {
			arn := aws.ToString(s.CertificateArn)
			seen[arn] = true
			c, ok := r.certs[arn]
			if !ok {
				d, err := r.ACM.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(arn)})
				if err != nil {
					return nil, fmt.Errorf("describe certificate %s: %w", arn, err)
				}
				cd := d.Certificate
				c = facts.Certificate{
					ARN:                     arn,
					DomainName:              aws.ToString(cd.DomainName),
					SubjectAlternativeNames: cd.SubjectAlternativeNames,
					Status:                  string(cd.Status),
					Type:                    string(cd.Type),
					KeyAlgorithm:            string(cd.KeyAlgorithm),
					NotAfter:                cd.NotAfter,
				}
				r.certs[arn] = c
			}
			out = append(out, c)
		}
	}
	for arn := range r.certs {
		if !seen[arn] {
			delete(r.certs, arn)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, nil
}

func tagMap(tags []ec2types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

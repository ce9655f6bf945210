// Package podnet puts pod addresses on the EC2 network interfaces of their
// nodes' instances, as the AWS VPC CNI does: each pod address is a
// secondary private IPv4 address of an interface attached to its node
// (AssignPrivateIpAddresses), the primary interface first, then interfaces
// the pool creates and attaches when those it has are full
// (CreateNetworkInterface, AttachNetworkInterface), within the limits EC2
// sets for the instance type. A pod that goes gives its address back
// (UnassignPrivateIpAddresses). So DescribeInstances and
// DescribeNetworkInterfaces show every pod address on its node, which is
// what the AWS Load Balancer Controller reads to find a pod's interface
// and security groups.
package podnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// EC2 is the part of the EC2 API the pool calls.
type EC2 interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	AssignPrivateIpAddresses(ctx context.Context, in *ec2.AssignPrivateIpAddressesInput, opts ...func(*ec2.Options)) (*ec2.AssignPrivateIpAddressesOutput, error)
	UnassignPrivateIpAddresses(ctx context.Context, in *ec2.UnassignPrivateIpAddressesInput, opts ...func(*ec2.Options)) (*ec2.UnassignPrivateIpAddressesOutput, error)
	CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error)
	AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error)
	DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error)
}

// Tags and description the AWS VPC CNI puts on the interfaces it creates.
const (
	DescriptionPrefix = "aws-K8S-"
	TagInstanceID     = "node.k8s.amazonaws.com/instance_id"
	TagClusterName    = "cluster.k8s.amazonaws.com/name"
)

// EC2 error codes the pool acts on.
const (
	codeIPLimit         = "PrivateIpAddressLimitExceeded"
	codeAttachmentLimit = "AttachmentLimitExceeded"
)

// Pool assigns and unassigns pod addresses. It is safe for concurrent use.
type Pool struct {
	// EC2 is the EC2 API of the cloud the nodes are instances of.
	EC2 EC2
	// ClusterName tags the interfaces the pool creates, as the CNI does.
	ClusterName string
	// Logger receives what the pool changes; nil discards it.
	Logger *slog.Logger

	mu sync.Mutex
}

func (p *Pool) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// iface is an interface attached to an instance.
type iface struct {
	id          string
	deviceIndex int32
	subnetID    string
	groups      []string
	primary     netip.Addr
	secondary   []netip.Addr
}

// interfaces returns the instance's attached interfaces by device index.
func (p *Pool) interfaces(ctx context.Context, instanceID string) ([]iface, error) {
	out, err := p.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return nil, fmt.Errorf("describe instance %s: %w", instanceID, err)
	}
	var ifs []iface
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if aws.ToString(in.InstanceId) != instanceID {
				continue
			}
			for _, n := range in.NetworkInterfaces {
				f := iface{id: aws.ToString(n.NetworkInterfaceId), subnetID: aws.ToString(n.SubnetId)}
				if n.Attachment != nil {
					f.deviceIndex = aws.ToInt32(n.Attachment.DeviceIndex)
				}
				for _, g := range n.Groups {
					f.groups = append(f.groups, aws.ToString(g.GroupId))
				}
				for _, a := range n.PrivateIpAddresses {
					ip, err := netip.ParseAddr(aws.ToString(a.PrivateIpAddress))
					if err != nil {
						continue
					}
					if aws.ToBool(a.Primary) {
						f.primary = ip
					} else {
						f.secondary = append(f.secondary, ip)
					}
				}
				ifs = append(ifs, f)
			}
		}
	}
	if len(ifs) == 0 {
		return nil, fmt.Errorf("instance %s has no network interface", instanceID)
	}
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].deviceIndex < ifs[j].deviceIndex })
	return ifs, nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Assign puts ip on an interface of the instance as a secondary address:
// on the first, by device index, that has room; when every attached
// interface is full, on a new interface created in the primary one's
// subnet with its security groups and attached at the next free device
// index. An address the instance has already is left where it is. The
// error is EC2's when the instance can take no more addresses.
func (p *Pool) Assign(ctx context.Context, instanceID string, ip netip.Addr) error {
	return p.withInterfaces(ctx, instanceID, func(ifs []iface) error { return p.assignTo(ctx, instanceID, ifs, ip) })
}

// withInterfaces runs fn on the instance's interfaces, one change at a
// time.
func (p *Pool) withInterfaces(ctx context.Context, instanceID string, fn func([]iface) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ifs, err := p.interfaces(ctx, instanceID)
	if err != nil {
		return err
	}
	return fn(ifs)
}

func (p *Pool) assignTo(ctx context.Context, instanceID string, ifs []iface, ip netip.Addr) error {
	for _, f := range ifs {
		if f.primary == ip || slices.Contains(f.secondary, ip) {
			return nil
		}
	}
	var limitErr error
	for _, f := range ifs {
		err := p.assign(ctx, f.id, ip)
		if err == nil {
			return nil
		}
		if apiCode(err) != codeIPLimit {
			return err
		}
		limitErr = err
	}
	id, err := p.attachNew(ctx, instanceID, ifs)
	if err != nil {
		if apiCode(err) == codeAttachmentLimit {
			return fmt.Errorf("%w; and %w", limitErr, err)
		}
		return err
	}
	return p.assign(ctx, id, ip)
}

func (p *Pool) assign(ctx context.Context, eniID string, ip netip.Addr) error {
	_, err := p.EC2.AssignPrivateIpAddresses(ctx, &ec2.AssignPrivateIpAddressesInput{
		NetworkInterfaceId: aws.String(eniID),
		PrivateIpAddresses: []string{ip.String()},
	})
	if err != nil {
		return fmt.Errorf("assign %s to %s: %w", ip, eniID, err)
	}
	p.log().Debug("assigned a pod address", "interface", eniID, "ip", ip)
	return nil
}

// attachNew creates an interface like the primary one and attaches it at
// the lowest free device index. An interface that cannot be attached is
// deleted again.
func (p *Pool) attachNew(ctx context.Context, instanceID string, ifs []iface) (string, error) {
	primary := ifs[0]
	tags := []types.Tag{{Key: aws.String(TagInstanceID), Value: aws.String(instanceID)}}
	if p.ClusterName != "" {
		tags = append(tags, types.Tag{Key: aws.String(TagClusterName), Value: aws.String(p.ClusterName)})
	}
	created, err := p.EC2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:          aws.String(primary.subnetID),
		Groups:            primary.groups,
		Description:       aws.String(DescriptionPrefix + instanceID),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface, Tags: tags}},
	})
	if err != nil {
		return "", fmt.Errorf("create a network interface for %s: %w", instanceID, err)
	}
	id := aws.ToString(created.NetworkInterface.NetworkInterfaceId)
	used := map[int32]bool{}
	for _, f := range ifs {
		used[f.deviceIndex] = true
	}
	index := int32(1)
	for used[index] {
		index++
	}
	if _, err := p.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		InstanceId: aws.String(instanceID), NetworkInterfaceId: aws.String(id), DeviceIndex: aws.Int32(index),
	}); err != nil {
		if _, derr := p.EC2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)}); derr != nil {
			p.log().Warn("could not delete a network interface that could not be attached", "interface", id, "error", derr)
		}
		return "", fmt.Errorf("attach %s to %s: %w", id, instanceID, err)
	}
	p.log().Info("attached a network interface for pod addresses", "instance", instanceID, "interface", id, "deviceIndex", index)
	return id, nil
}

// Unassign takes ip off the instance's interface that has it as a
// secondary address; an address the instance does not have is no error.
func (p *Pool) Unassign(ctx context.Context, instanceID string, ip netip.Addr) error {
	return p.Release(ctx, instanceID, func(a netip.Addr) bool { return a != ip })
}

func (p *Pool) unassign(ctx context.Context, eniID string, ips []netip.Addr) error {
	in := &ec2.UnassignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(eniID)}
	for _, ip := range ips {
		in.PrivateIpAddresses = append(in.PrivateIpAddresses, ip.String())
	}
	if _, err := p.EC2.UnassignPrivateIpAddresses(ctx, in); err != nil {
		return fmt.Errorf("unassign %v from %s: %w", ips, eniID, err)
	}
	p.log().Debug("unassigned pod addresses", "interface", eniID, "ips", ips)
	return nil
}

// Release unassigns every secondary address of the instance that keep
// does not accept (addresses of pods that went while nobody watched).
func (p *Pool) Release(ctx context.Context, instanceID string, keep func(netip.Addr) bool) error {
	return p.withInterfaces(ctx, instanceID, func(ifs []iface) error {
		for _, f := range ifs {
			var drop []netip.Addr
			for _, ip := range f.secondary {
				if !keep(ip) {
					drop = append(drop, ip)
				}
			}
			if len(drop) > 0 {
				if err := p.unassign(ctx, f.id, drop); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

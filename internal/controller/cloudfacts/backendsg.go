package cloudfacts

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// SecurityGroupWriter is the part of the EC2 API BackendSG calls.
type SecurityGroupWriter interface {
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, opts ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
}

// BackendSG finds, or creates on first need, the cluster's shared backend
// security group: named k8s-traffic-<cluster>-<hash>, tagged
// elbv2.k8s.aws/cluster=<cluster> and elbv2.k8s.aws/resource=backend-sg,
// as the reference controller makes it.
type BackendSG struct {
	EC2         SecurityGroupWriter
	VpcID       string
	ClusterName string
	// Name is the group's name (translate.Cloud.BackendSecurityGroupName).
	Name string

	mu sync.Mutex
	id string
}

// ID returns the group's ID, creating the group when it does not exist.
func (b *BackendSG) ID(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.id != "" {
		return b.id, nil
	}
	out, err := b.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{b.VpcID}},
		{Name: aws.String("tag:elbv2.k8s.aws/cluster"), Values: []string{b.ClusterName}},
		{Name: aws.String("tag:elbv2.k8s.aws/resource"), Values: []string{"backend-sg"}},
	}})
	if err != nil {
		return "", fmt.Errorf("find backend security group: %w", err)
	}
	if len(out.SecurityGroups) > 0 {
		b.id = aws.ToString(out.SecurityGroups[0].GroupId)
		return b.id, nil
	}
	created, err := b.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:   aws.String(b.Name),
		Description: aws.String("[k8s] Shared Backend SecurityGroup for LoadBalancer"),
		VpcId:       aws.String(b.VpcID),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeSecurityGroup,
			Tags: []ec2types.Tag{
				{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String(b.ClusterName)},
				{Key: aws.String("elbv2.k8s.aws/resource"), Value: aws.String("backend-sg")},
			},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("create backend security group %s: %w", b.Name, err)
	}
	b.id = aws.ToString(created.GroupId)
	return b.id, nil
}

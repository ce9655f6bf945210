package webhooks

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// TargetGroups is the part of the ELBv2 API the binding webhooks need.
type TargetGroups interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2sdk.DescribeTargetGroupsInput, opts ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTargetGroupsOutput, error)
}

// describeTargetGroup finds a binding's target group by ARN, else by name.
func describeTargetGroup(ctx context.Context, api TargetGroups, tgb *elbv2api.TargetGroupBinding) (elbv2types.TargetGroup, error) {
	in := &elbv2sdk.DescribeTargetGroupsInput{}
	what := tgb.Spec.TargetGroupARN
	if what != "" {
		in.TargetGroupArns = []string{what}
	} else {
		what = "named " + tgb.Spec.TargetGroupName
		in.Names = []string{tgb.Spec.TargetGroupName}
	}
	out, err := api.DescribeTargetGroups(ctx, in)
	if err != nil {
		return elbv2types.TargetGroup{}, fmt.Errorf("target group %s: %w", what, err)
	}
	if len(out.TargetGroups) != 1 {
		return elbv2types.TargetGroup{}, fmt.Errorf("target group %s: found %d target groups", what, len(out.TargetGroups))
	}
	return out.TargetGroups[0], nil
}

func ipAddressTypeOf(tg elbv2types.TargetGroup) (elbv2api.TargetGroupIPAddressType, error) {
	switch tg.IpAddressType {
	case elbv2types.TargetGroupIpAddressTypeEnumIpv6:
		return elbv2api.TargetGroupIPAddressTypeIPv6, nil
	case elbv2types.TargetGroupIpAddressTypeEnumIpv4, "":
		return elbv2api.TargetGroupIPAddressTypeIPv4, nil
	}
	return "", fmt.Errorf("unsupported IPAddressType: %v", tg.IpAddressType)
}

// BindingDefaulter fills a new binding's targetGroupARN (from
// targetGroupName), targetType, ipAddressType, vpcID and
// targetGroupProtocol from its target group.
type BindingDefaulter struct {
	ELBV2 TargetGroups
}

// Default implements admission.Defaulter.
func (m *BindingDefaulter) Default(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation != "CREATE" {
		return nil
	}
	if tgb.Spec.TargetGroupARN == "" && tgb.Spec.TargetGroupName == "" {
		return errors.New("must provide either TargetGroupARN or TargetGroupName")
	}
	if tgb.Spec.TargetType != nil && tgb.Spec.IPAddressType != nil && tgb.Spec.VpcID != "" && tgb.Spec.TargetGroupProtocol != nil && tgb.Spec.TargetGroupARN != "" {
		return nil
	}
	tg, err := describeTargetGroup(ctx, m.ELBV2, tgb)
	if err != nil {
		return err
	}
	if tgb.Spec.TargetGroupARN == "" {
		tgb.Spec.TargetGroupARN = aws.ToString(tg.TargetGroupArn)
	}
	if tgb.Spec.TargetType == nil {
		var tt elbv2api.TargetType
		switch tg.TargetType {
		case elbv2types.TargetTypeEnumInstance:
			tt = elbv2api.TargetTypeInstance
		case elbv2types.TargetTypeEnumIp:
			tt = elbv2api.TargetTypeIP
		default:
			return fmt.Errorf("couldn't determine TargetType: unsupported TargetType: %v", tg.TargetType)
		}
		tgb.Spec.TargetType = &tt
	}
	if tgb.Spec.IPAddressType == nil {
		t, err := ipAddressTypeOf(tg)
		if err != nil {
			return fmt.Errorf("unable to get target group IP address type: %w", err)
		}
		tgb.Spec.IPAddressType = &t
	}
	if tgb.Spec.VpcID == "" {
		tgb.Spec.VpcID = aws.ToString(tg.VpcId)
	}
	if tgb.Spec.TargetGroupProtocol == nil && tg.Protocol != "" {
		p := elbv2api.TargetGroupProtocol(tg.Protocol)
		tgb.Spec.TargetGroupProtocol = &p
	}
	return nil
}

var vpcIDPattern = regexp.MustCompile(`^(?:vpc-[0-9a-f]{8}|vpc-[0-9a-f]{17}|vpc-[0-9a-f]{32})$`)

// BindingValidator rejects what the reference rejects: a binding without a
// target group or target type, a nodeSelector on an ip binding, a second
// binding of the same target group (unless every one is multi-cluster),
// IP address type, VPC or protocol that differ from the target group's,
// instance targets with an assumed role, and changes to immutable fields.
type BindingValidator struct {
	Client client.Reader
	ELBV2  TargetGroups
	// VpcID is the controller's VPC (--aws-vpc-id).
	VpcID string
}

// ValidateCreate implements admission.Validator.
func (v *BindingValidator) ValidateCreate(ctx context.Context, tgb *elbv2api.TargetGroupBinding) (admission.Warnings, error) {
	tgOnce := sync.OnceValues(func() (elbv2types.TargetGroup, error) { return describeTargetGroup(ctx, v.ELBV2, tgb) })
	if err := v.checkRequired(ctx, tgb); err != nil {
		return nil, err
	}
	if err := checkNodeSelector(tgb); err != nil {
		return nil, err
	}
	if err := v.checkDuplicates(ctx, tgb); err != nil {
		return nil, err
	}
	tg, err := tgOnce()
	if err != nil {
		return nil, err
	}
	ipType, err := ipAddressTypeOf(tg)
	if err != nil {
		return nil, fmt.Errorf("unable to get target group IP address type: %w", err)
	}
	if (tgb.Spec.IPAddressType != nil && *tgb.Spec.IPAddressType != ipType) || (tgb.Spec.IPAddressType == nil && ipType != elbv2api.TargetGroupIPAddressTypeIPv4) {
		return nil, fmt.Errorf("invalid IP address type %v for TargetGroup %v", ipType, tgb.Spec.TargetGroupARN)
	}
	if tgb.Spec.VpcID != "" {
		if !vpcIDPattern.MatchString(tgb.Spec.VpcID) {
			return nil, fmt.Errorf("ValidationError: vpcID %v failed to satisfy constraint: VPC Id must begin with 'vpc-' followed by 8, 17 or 32 lowercase letters (a-f) or numbers", tgb.Spec.VpcID)
		}
		if got := aws.ToString(tg.VpcId); got != tgb.Spec.VpcID {
			return nil, fmt.Errorf("invalid VpcID %v doesnt match VpcID from TargetGroup %v", tgb.Spec.VpcID, tgb.Spec.TargetGroupARN)
		}
	}
	if err := checkAssumeRole(tgb); err != nil {
		return nil, err
	}
	if tgb.Spec.TargetGroupProtocol != nil {
		if string(tg.Protocol) != string(*tgb.Spec.TargetGroupProtocol) {
			return nil, fmt.Errorf("TargetGroup %v protocol differs (got %v, expected %v)", tgb.Spec.TargetGroupARN, *tgb.Spec.TargetGroupProtocol, tg.Protocol)
		}
		if (tg.Protocol == elbv2types.ProtocolEnumQuic || tg.Protocol == elbv2types.ProtocolEnumTcpQuic) && *tgb.Spec.TargetType == elbv2api.TargetTypeInstance {
			return nil, errors.New("QUIC protocol is not supported for Instance target types")
		}
	}
	return nil, nil
}

// ValidateUpdate implements admission.Validator.
func (v *BindingValidator) ValidateUpdate(ctx context.Context, oldTGB, tgb *elbv2api.TargetGroupBinding) (admission.Warnings, error) {
	if tgb.DeletionTimestamp != nil {
		// Removing the finalizer of a binding being deleted is always allowed.
		return nil, nil
	}
	if err := v.checkRequired(ctx, tgb); err != nil {
		return nil, err
	}
	if err := v.checkImmutable(oldTGB, tgb); err != nil {
		return nil, err
	}
	if err := checkNodeSelector(tgb); err != nil {
		return nil, err
	}
	if err := checkAssumeRole(tgb); err != nil {
		return nil, err
	}
	if err := v.checkDuplicates(ctx, tgb); err != nil {
		return nil, err
	}
	return nil, nil
}

// ValidateDelete implements admission.Validator.
func (v *BindingValidator) ValidateDelete(context.Context, *elbv2api.TargetGroupBinding) (admission.Warnings, error) {
	return nil, nil
}

func (v *BindingValidator) checkRequired(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	var absent []string
	if tgb.Spec.TargetGroupARN == "" {
		if tgb.Spec.TargetGroupName == "" {
			absent = append(absent, "either TargetGroupARN or TargetGroupName")
		} else {
			tg, err := describeTargetGroup(ctx, v.ELBV2, tgb)
			if err != nil {
				return fmt.Errorf("searching TargetGroup with name %s: %w", tgb.Spec.TargetGroupName, err)
			}
			tgb.Spec.TargetGroupARN = aws.ToString(tg.TargetGroupArn)
		}
	}
	if tgb.Spec.TargetType == nil {
		absent = append(absent, "spec.targetType")
	}
	if len(absent) > 0 {
		return fmt.Errorf("TargetGroupBinding must specify these fields: %s", strings.Join(absent, ","))
	}
	return nil
}

func (v *BindingValidator) checkImmutable(old, tgb *elbv2api.TargetGroupBinding) error {
	var changed []string
	if tgb.Spec.TargetGroupARN != old.Spec.TargetGroupARN {
		changed = append(changed, "spec.targetGroupARN")
	}
	if (tgb.Spec.TargetType == nil) != (old.Spec.TargetType == nil) ||
		(tgb.Spec.TargetType != nil && old.Spec.TargetType != nil && *tgb.Spec.TargetType != *old.Spec.TargetType) {
		changed = append(changed, "spec.targetType")
	}
	switch {
	case old.Spec.IPAddressType == nil && tgb.Spec.IPAddressType != nil && *tgb.Spec.IPAddressType != elbv2api.TargetGroupIPAddressTypeIPv4,
		tgb.Spec.IPAddressType == nil && old.Spec.IPAddressType != nil,
		old.Spec.IPAddressType != nil && tgb.Spec.IPAddressType != nil && *old.Spec.IPAddressType != *tgb.Spec.IPAddressType:
		changed = append(changed, "spec.ipAddressType")
	}
	if (tgb.Spec.VpcID != "" && old.Spec.VpcID != "" && tgb.Spec.VpcID != old.Spec.VpcID) ||
		(old.Spec.VpcID != "" && tgb.Spec.VpcID == "") ||
		(old.Spec.VpcID == "" && tgb.Spec.VpcID != "" && tgb.Spec.VpcID != v.VpcID) {
		changed = append(changed, "spec.vpcID")
	}
	if len(changed) > 0 {
		return fmt.Errorf("TargetGroupBinding update may not change these immutable fields: %s", strings.Join(changed, ","))
	}
	return nil
}

func (v *BindingValidator) checkDuplicates(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	var list elbv2api.TargetGroupBindingList
	if err := v.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("failed to list TargetGroupBindings in the cluster: %w", err)
	}
	multi := tgb.Spec.MultiClusterTargetGroup
	var dups []string
	for _, o := range list.Items {
		if o.UID == tgb.UID || o.Spec.TargetGroupARN != tgb.Spec.TargetGroupARN {
			continue
		}
		if o.Namespace == tgb.Namespace && o.Name == tgb.Name {
			continue
		}
		if !o.Spec.MultiClusterTargetGroup {
			multi = false
		}
		dups = append(dups, o.Namespace+"/"+o.Name)
	}
	if len(dups) > 0 && !multi {
		sort.Strings(dups)
		return fmt.Errorf("TargetGroup %v is already bound to following TargetGroupBindings [%s]. Please enable MultiCluster mode on all TargetGroupBindings referencing %v or choose a different Target Group ARN",
			tgb.Spec.TargetGroupARN, strings.Join(dups, " "), tgb.Spec.TargetGroupARN)
	}
	return nil
}

func checkNodeSelector(tgb *elbv2api.TargetGroupBinding) error {
	if tgb.Spec.TargetType != nil && *tgb.Spec.TargetType == elbv2api.TargetTypeIP && tgb.Spec.NodeSelector != nil {
		return errors.New("TargetGroupBinding cannot set NodeSelector when TargetType is ip")
	}
	return nil
}

func checkAssumeRole(tgb *elbv2api.TargetGroupBinding) error {
	if tgb.Spec.IamRoleArnToAssume != "" && tgb.Spec.TargetType != nil && *tgb.Spec.TargetType == elbv2api.TargetTypeInstance {
		return errors.New("unable to use instance target type while using assume role")
	}
	return nil
}

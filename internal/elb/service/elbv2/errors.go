package elbv2

import (
	"errors"
	"strings"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
)

// The error codes of the ELBv2 API (API reference, each operation's
// Errors section, and the SDK's types/errors.go).
const (
	codeValidation                 = "ValidationError"
	codeAllocationIDNotFound       = "AllocationIdNotFound"
	codeALPNPolicyNotFound         = "ALPNPolicyNotFound"
	codeAvailabilityZoneNotSupp    = "AvailabilityZoneNotSupported"
	codeCapacityDecreaseLimit      = "CapacityDecreaseRequestLimitExceeded"
	codeCapacityUnitsLimit         = "CapacityUnitsLimitExceeded"
	codeCertificateNotFound        = "CertificateNotFound"
	codeDuplicateListener          = "DuplicateListener"
	codeDuplicateLoadBalancerName  = "DuplicateLoadBalancerName"
	codeDuplicateTagKeys           = "DuplicateTagKeys"
	codeDuplicateTargetGroupName   = "DuplicateTargetGroupName"
	codeIncompatibleProtocols      = "IncompatibleProtocols"
	codeInvalidConfiguration       = "InvalidConfigurationRequest"
	codeInvalidLoadBalancerAction  = "InvalidLoadBalancerAction"
	codeInvalidScheme              = "InvalidScheme"
	codeInvalidSecurityGroup       = "InvalidSecurityGroup"
	codeInvalidSubnet              = "InvalidSubnet"
	codeInvalidTarget              = "InvalidTarget"
	codeListenerNotFound           = "ListenerNotFound"
	codeLoadBalancerNotFound       = "LoadBalancerNotFound"
	codeOperationNotPermitted      = "OperationNotPermitted"
	codePriorityInUse              = "PriorityInUse"
	codeResourceInUse              = "ResourceInUse"
	codeRuleNotFound               = "RuleNotFound"
	codeSSLPolicyNotFound          = "SSLPolicyNotFound"
	codeSubnetNotFound             = "SubnetNotFound"
	codeTargetGroupAssociation     = "TargetGroupAssociationLimit"
	codeTargetGroupNotFound        = "TargetGroupNotFound"
	codeTooManyActions             = "TooManyActions"
	codeTooManyCertificates        = "TooManyCertificates"
	codeTooManyListeners           = "TooManyListeners"
	codeTooManyLoadBalancers       = "TooManyLoadBalancers"
	codeTooManyRules               = "TooManyRules"
	codeTooManyTags                = "TooManyTags"
	codeTooManyTargetGroups        = "TooManyTargetGroups"
	codeTooManyTargets             = "TooManyTargets"
	codeTooManyTrustStores         = "TooManyTrustStores"
	codeTooManyUniqueTargetGroups  = "TooManyUniqueTargetGroupsPerLoadBalancer"
	codeTrustStoreNotFound         = "TrustStoreNotFound"
	codeTrustStoreNotReady         = "TrustStoreNotReady"
	codeTrustStoreInUse            = "TrustStoreInUse"
	codeDuplicateTrustStoreName    = "DuplicateTrustStoreName"
	codeCaBundleNotFound           = "CaCertificatesBundleNotFound"
	codeInvalidCaBundle            = "InvalidCaCertificatesBundle"
	codeUnsupportedProtocol        = "UnsupportedProtocol"
	codeCapacityReservationPending = "CapacityReservationPending"
)

// isCode reports whether err is an AWS error with the code.
func isCode(err error, code string) bool { return awserr.Is(err, code) }

func errf(code, format string, args ...any) error { return awserr.New(code, format, args...) }

func validation(format string, args ...any) error { return awserr.Validation(format, args...) }

// missing is the error for a required member left out, worded as AWS's
// request validation words it.
func missing(member string) error {
	return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// badEnum is the error for an enumeration member with a value outside the
// enumeration.
func badEnum(member, value string, allowed ...string) error {
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", value, member, strings.Join(allowed, ", "))
}

// outOfRange is the error for a number outside its documented range.
func outOfRange(member string, v, lo, hi int64) error {
	if v < lo {
		return validation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", v, member, lo)
	}
	return validation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", v, member, hi)
}

// tooLong is the error for a list or string longer than allowed.
func tooLong(member string, n, max int) error {
	return validation("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d (got %d)", member, max, n)
}

func lbNotFound(arn string) error {
	return errf(codeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
}

func tgNotFound(arn string) error {
	return errf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
}

func listenerNotFound(arn string) error {
	return errf(codeListenerNotFound, "Listener '%s' not found", arn)
}

func ruleNotFound(arn string) error {
	return errf(codeRuleNotFound, "Rule '%s' not found", arn)
}

func certNotFound(arn string) error {
	return errf(codeCertificateNotFound, "Certificate '%s' not found", arn)
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// str dereferences a string pointer ("" for nil).
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// i32 dereferences an int32 pointer (0 for nil).
func i32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// provisionErr answers a reference that could not be auto-provisioned
// with the kind's NotFound code and the reason.
func provisionErr(err error, code, noun string) error {
	var pe *ec2.ProvisionError
	if errors.As(err, &pe) {
		return errf(code, "The %s '%s' is not valid and could not be auto-provisioned: %s", noun, pe.ID, pe.Reason)
	}
	return err
}

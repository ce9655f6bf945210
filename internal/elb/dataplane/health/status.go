// Package health holds the target health states and reason codes of ELBv2
// (as DescribeTargetHealth reports them) and the checker that probes
// targets. The data planes read the checker's results to choose targets.
package health

import "strconv"

// The target health states of ELBv2's TargetHealth.State.
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateUnused      = "unused"
	StateDraining    = "draining"
	StateUnavailable = "unavailable"
)

// The reason codes of ELBv2's TargetHealth.Reason.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonInternalError            = "Elb.InternalError"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
	ReasonInvalidState             = "Target.InvalidState"
	ReasonIPUnusable               = "Target.IpUnusable"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonHealthCheckDisabled      = "Target.HealthCheckDisabled"
)

// Status is one target's health as DescribeTargetHealth reports it.
type Status struct {
	State       string
	Reason      string // empty when healthy
	Description string
}

// Healthy reports whether the state is healthy.
func (s Status) Healthy() bool { return s.State == StateHealthy }

// Canned statuses whose wording follows AWS's.
var (
	RegistrationInProgress   = Status{StateInitial, ReasonRegistrationInProgress, "Target registration is in progress"}
	InitialHealthChecking    = Status{StateInitial, ReasonInitialHealthChecking, "Initial health checks in progress"}
	NotRegistered            = Status{StateUnused, ReasonNotRegistered, "Target is not registered to the target group"}
	NotInUse                 = Status{StateUnused, ReasonNotInUse, "Target group is not configured to receive traffic from the load balancer"}
	InvalidState             = Status{StateUnused, ReasonInvalidState, "Target is in the stopped or terminated state"}
	DeregistrationInProgress = Status{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress"}
	HealthCheckDisabled      = Status{StateUnavailable, ReasonHealthCheckDisabled, "Health checks are disabled"}
	Healthy                  = Status{State: StateHealthy}
)

// More canned statuses, with AWS's wording.
var (
	// ZoneNotEnabled is a target in an Availability Zone that none of the
	// load balancers using its target group is enabled in.
	ZoneNotEnabled = Status{StateUnused, ReasonNotInUse, "Target is in an Availability Zone that is not enabled for the load balancer"}
	// TargetInvalidState is a target that cannot be resolved to an address
	// (for example an instance ID that EC2 does not know).
	TargetInvalidState = Status{StateUnused, ReasonInvalidState, "Target is in an invalid state"}
	// Unavailable is a target whose health the local ELB cannot determine
	// (a Lambda function target with health checks enabled).
	Unavailable = Status{StateUnavailable, ReasonInternalError, "Target health is unavailable"}
	// TimedOut is a target whose health checks timed out (ALB).
	TimedOut = Status{StateUnhealthy, ReasonTimeout, "Request timed out"}
	// FailedHealthChecks is a target whose health checks failed: the
	// connection was refused or reset, or the response was malformed; on
	// a Network Load Balancer every failure reads so.
	FailedHealthChecks = Status{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}
)

// ResponseCodeMismatch is a target whose health check answered with a code
// (HTTP status, or gRPC status for gRPC health checks) outside the matcher.
func ResponseCodeMismatch(code int) Status {
	return Status{StateUnhealthy, ReasonResponseCodeMismatch, "Health checks failed with these codes: [" + strconv.Itoa(code) + "]"}
}

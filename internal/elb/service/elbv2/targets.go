package elbv2

import (
	"context"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// privateRanges are where IP targets outside the VPC may be: RFC 1918 and
// RFC 6598 (CreateTargetGroup, TargetType ip).
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// RegisterTargets registers targets with a target group; the port defaults
// to the target group's. Registering a draining target makes it a new
// registration (API_RegisterTargets).
func (s *Service) RegisterTargets(ctx context.Context, in *sdk.RegisterTargetsInput) (*sdk.RegisterTargetsOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	if in.Targets == nil {
		return nil, missing("targets")
	}
	err := s.update(ctx, "RegisterTargets", in.TargetGroupArn, func(tx *state.Tx) error {
		tg, err := getTG(tx, *in.TargetGroupArn)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		existing, err := state.ListPrefix(tx, state.Targets, state.TargetGroupPrefix(tg.ARN))
		if err != nil {
			return err
		}
		have := make(map[string]*state.Target, len(existing))
		for _, t := range existing {
			have[state.Targets.Key(t)] = t
		}
		v, err := s.newTargetValidator(tx, tg)
		if err != nil {
			return err
		}
		added := 0
		for _, d := range in.Targets {
			t, err := v.target(d)
			if err != nil {
				return err
			}
			t.RegisteredAt = now
			key := state.Targets.Key(t)
			if old, ok := have[key]; ok && !old.Draining() {
				continue // already registered: nothing changes
			} else if !ok {
				added++
			}
			have[key] = t
			if err := state.Put(tx, state.Targets, t); err != nil {
				return err
			}
		}
		if added == 0 {
			return nil
		}
		return s.checkTargetQuotas(tx, tg, have)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.RegisterTargetsOutput{}, nil
}

// checkTargetQuotas enforces the targets-per-target-group quota, one target
// for Lambda and ALB target groups, and the per-load-balancer quotas of
// the load balancers that use the target group.
func (s *Service) checkTargetQuotas(tx *state.Tx, tg *state.TargetGroup, have map[string]*state.Target) error {
	n := len(have)
	switch {
	case (tg.TargetType == targetLambda || tg.TargetType == targetALB) && n > 1:
		return errf(codeTooManyTargets, "You've reached the limit on the number of targets: a target group of type '%s' holds one target", tg.TargetType)
	case n > s.limits.TargetsPerTargetGroup:
		return errf(codeTooManyTargets, "You've reached the limit on the number of targets per target group (%d)", s.limits.TargetsPerTargetGroup)
	}
	use, err := targetGroupUsage(tx)
	if err != nil {
		return err
	}
	for _, lbARN := range use[tg.ARN] {
		lb, ok, err := state.Get(tx, state.LoadBalancers, lbARN)
		if err != nil || !ok {
			return err
		}
		max := s.limits.TargetsPerALB
		switch lb.Type {
		case typeNetwork:
			max = s.limits.TargetsPerNLB
		case typeGateway:
			continue
		}
		total := n
		for other, lbs := range use {
			if other != tg.ARN && slices.Contains(lbs, lbARN) {
				total += len(mustTargets(tx, other))
			}
		}
		if total > max {
			return errf(codeTooManyTargets, "You've reached the limit on the number of targets per load balancer (%d for '%s')", max, lbARN)
		}
	}
	return nil
}

func mustTargets(tx *state.Tx, tgARN string) []*state.Target {
	ts, _ := state.ListPrefix(tx, state.Targets, state.TargetGroupPrefix(tgARN))
	return ts
}

// targetValidator checks target descriptions against a target group.
type targetValidator struct {
	tx      *state.Tx
	tg      *state.TargetGroup
	vpcCIDR netip.Prefix
	subnets []*state.Subnet
	region  string
}

func (s *Service) newTargetValidator(tx *state.Tx, tg *state.TargetGroup) (*targetValidator, error) {
	v := &targetValidator{tx: tx, tg: tg, region: s.region}
	if tg.VpcID != "" {
		vpc, ok, err := state.Get(tx, state.VPCs, tg.VpcID)
		if err != nil {
			return nil, err
		}
		if ok {
			v.vpcCIDR, _ = netip.ParsePrefix(vpc.CIDR)
		}
		err = state.ForEachPrefix(tx, state.Subnets, "", func(sn *state.Subnet) error {
			if sn.VpcID == tg.VpcID {
				v.subnets = append(v.subnets, sn)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// target validates one description and returns the target to store.
func (v *targetValidator) target(d types.TargetDescription) (*state.Target, error) {
	if d.Id == nil || *d.Id == "" {
		return nil, missing("targets.member.id")
	}
	id := *d.Id
	t := &state.Target{TargetGroupARN: v.tg.ARN, ID: id, Port: v.tg.Port, QuicServerID: str(d.QuicServerId)}
	if d.Port != nil {
		if v.tg.TargetType == targetLambda {
			return nil, validation("A port cannot be specified for Lambda targets")
		}
		if p := *d.Port; p < 1 || p > 65535 {
			return nil, outOfRange("targets.member.port", int64(p), 1, 65535)
		}
		t.Port = *d.Port
	}
	quic := v.tg.Protocol == "QUIC" || v.tg.Protocol == "TCP_QUIC"
	if quic != (t.QuicServerID != "") {
		if quic {
			return nil, validation("A QUIC server ID is required for targets of %s target groups", v.tg.Protocol)
		}
		return nil, validation("A QUIC server ID can only be specified for QUIC and TCP_QUIC target groups")
	}
	az := str(d.AvailabilityZone)
	switch v.tg.TargetType {
	case targetInstance:
		if az != "" {
			return nil, validation("An Availability Zone cannot be specified for targets of type instance")
		}
		if !strings.HasPrefix(id, "i-") {
			return nil, errf(codeInvalidTarget, "The following targets are not valid instance IDs: '%s'", id)
		}
		in, ok, err := state.Get(v.tx, state.Instances, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errf(codeInvalidTarget, "The following targets are not valid instances: '%s'", id)
		}
		if in.State != "running" {
			return nil, errf(codeInvalidTarget, "The following targets are not in a running state and cannot be registered: '%s'", id)
		}
		if in.VpcID != v.tg.VpcID {
			return nil, errf(codeInvalidTarget, "The following targets are not in the target group VPC '%s': '%s'", v.tg.VpcID, id)
		}
	case targetIP:
		a, err := netip.ParseAddr(id)
		if err != nil || a.Zone() != "" {
			return nil, errf(codeInvalidTarget, "The IP address '%s' is not a valid IP address", id)
		}
		a = a.Unmap()
		if (v.tg.IPAddressType == ipv6) != a.Is6() {
			return nil, errf(codeInvalidTarget, "The IP address '%s' is not an %s address, as the target group's IP address type requires", id, v.tg.IPAddressType)
		}
		t.ID = a.String()
		var inSubnet *state.Subnet
		for _, sn := range v.subnets {
			cidr := sn.CIDR
			if a.Is6() {
				cidr = sn.IPv6CIDR
			}
			if p, err := netip.ParsePrefix(cidr); err == nil && p.Contains(a) {
				inSubnet = sn
			}
		}
		switch {
		case inSubnet != nil:
			if az == "all" {
				return nil, errf(codeInvalidTarget, "The Availability Zone 'all' can only be specified for IP addresses outside the VPC; '%s' is in subnet '%s'", id, inSubnet.ID)
			}
			if az != "" && az != inSubnet.AvailabilityZone {
				return nil, errf(codeInvalidTarget, "The IP address '%s' is in Availability Zone '%s', not '%s'", id, inSubnet.AvailabilityZone, az)
			}
		case a.Is4() && !inAny(a, privateRanges):
			return nil, errf(codeInvalidTarget, "The IP address '%s' is not in the VPC or in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10); publicly routable addresses cannot be registered", id)
		case az == "":
			return nil, errf(codeInvalidTarget, "The IP address '%s' is outside the VPC's subnets: specify the Availability Zone 'all'", id)
		case az != "all" && !strings.HasPrefix(az, v.region):
			return nil, errf(codeInvalidTarget, "The Availability Zone '%s' is not a zone of %s", az, v.region)
		}
		t.AvailabilityZone = az
	case targetLambda:
		if !lambdaARNRE.MatchString(id) {
			return nil, errf(codeInvalidTarget, "The target '%s' is not a valid Lambda function ARN", id)
		}
		if az != "" && az != "all" {
			return nil, validation("The only Availability Zone Lambda targets accept is 'all'")
		}
		t.Port, t.AvailabilityZone = 0, az
	case targetALB:
		if az != "" {
			return nil, validation("An Availability Zone cannot be specified for targets of type alb")
		}
		lb, ok, err := state.Get(v.tx, state.LoadBalancers, id)
		if err != nil {
			return nil, err
		}
		if !ok || lb.Type != typeApplication {
			return nil, errf(codeInvalidTarget, "The target '%s' is not an Application Load Balancer", id)
		}
		if lb.VpcID != v.tg.VpcID {
			return nil, errf(codeInvalidTarget, "The Application Load Balancer '%s' is not in the target group VPC '%s'", id, v.tg.VpcID)
		}
		ls, err := listenersOf(v.tx, id)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ls, func(l *state.Listener) bool { return l.Port == t.Port }) {
			return nil, errf(codeInvalidTarget, "The Application Load Balancer '%s' has no listener on port %d", id, t.Port)
		}
	}
	return t, nil
}

// subnetZone returns the zone of the subnet holding an IP address, "" when
// none does.
func subnetZone(subnets []*state.Subnet, ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	for _, sn := range subnets {
		cidr := sn.CIDR
		if a.Is6() {
			cidr = sn.IPv6CIDR
		}
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Contains(a) {
			return sn.AvailabilityZone
		}
	}
	return ""
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// DeregisterTargets deregisters targets: each drains for the target
// group's deregistration delay, then is removed (by Run). Targets that are
// not registered are ignored, as the API reference says
// (API_DeregisterTargets).
func (s *Service) DeregisterTargets(ctx context.Context, in *sdk.DeregisterTargetsInput) (*sdk.DeregisterTargetsOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	if in.Targets == nil {
		return nil, missing("targets")
	}
	var until time.Time
	drained := false
	err := s.update(ctx, "DeregisterTargets", in.TargetGroupArn, func(tx *state.Tx) error {
		drained = false
		tg, err := getTG(tx, *in.TargetGroupArn)
		if err != nil {
			return err
		}
		delay := 300
		if v, err := strconv.Atoi(tg.Attributes["deregistration_delay.timeout_seconds"]); err == nil {
			delay = v
		}
		if tg.TargetType == targetLambda {
			delay = 0
		}
		until = s.now().UTC().Add(time.Duration(delay) * time.Second)
		for _, d := range in.Targets {
			if d.Id == nil || *d.Id == "" {
				return missing("targets.member.id")
			}
			id := *d.Id
			if a, err := netip.ParseAddr(id); err == nil && tg.TargetType == targetIP {
				id = a.Unmap().String()
			}
			port := tg.Port
			if d.Port != nil {
				port = *d.Port
			}
			if tg.TargetType == targetLambda {
				port = 0
			}
			t, ok, err := state.Get(tx, state.Targets, state.TargetKey(tg.ARN, id, port))
			if err != nil {
				return err
			}
			if !ok || t.Draining() {
				continue
			}
			if delay == 0 {
				if _, err := state.Delete(tx, state.Targets, state.Targets.Key(t)); err != nil {
					return err
				}
				continue
			}
			t.DrainUntil = until
			if err := state.Put(tx, state.Targets, t); err != nil {
				return err
			}
			drained = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if drained {
		s.noteDue(until)
	}
	return &sdk.DeregisterTargetsOutput{}, nil
}

// DescribeTargetHealth reports the health of a target group's targets, or
// of the given ones (API_DescribeTargetHealth).
func (s *Service) DescribeTargetHealth(ctx context.Context, in *sdk.DescribeTargetHealthInput) (*sdk.DescribeTargetHealthOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	includeAnomaly := false
	for _, inc := range in.Include {
		switch inc {
		case types.DescribeTargetHealthInputIncludeEnumAnomaly, types.DescribeTargetHealthInputIncludeEnumAll:
			includeAnomaly = true
		default:
			return nil, badEnum("include", string(inc), "AnomalyDetection", "All")
		}
	}
	var (
		tg      *state.TargetGroup
		targets []*state.Target
		inUse   bool
		zones   map[string]bool
		stopped map[string]bool
		offZone map[string]bool
	)
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		if tg, err = getTG(tx, *in.TargetGroupArn); err != nil {
			return err
		}
		if targets, err = state.ListPrefix(tx, state.Targets, state.TargetGroupPrefix(tg.ARN)); err != nil {
			return err
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		inUse = len(use[tg.ARN]) > 0
		zones = map[string]bool{}
		for _, lbARN := range use[tg.ARN] {
			if lb, ok, err := state.Get(tx, state.LoadBalancers, lbARN); err != nil {
				return err
			} else if ok {
				for _, z := range lb.Zones {
					zones[z.ZoneName] = true
				}
			}
		}
		stopped = map[string]bool{}
		offZone = map[string]bool{}
		var subnets []*state.Subnet
		if tg.TargetType == targetIP {
			err := state.ForEachPrefix(tx, state.Subnets, "", func(sn *state.Subnet) error {
				if sn.VpcID == tg.VpcID {
					subnets = append(subnets, sn)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, t := range targets {
			zone := t.AvailabilityZone
			switch tg.TargetType {
			case targetInstance:
				in, ok, err := state.Get(tx, state.Instances, t.ID)
				if err != nil {
					return err
				}
				if !ok || in.State != "running" {
					stopped[t.ID] = true
					continue
				}
				zone = in.AvailabilityZone
			case targetIP:
				if zone == "" {
					zone = subnetZone(subnets, t.ID)
				}
			}
			if inUse && zone != "" && zone != "all" && !zones[zone] {
				offZone[state.Targets.Key(t)] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	status := func(t *state.Target) health.Status {
		switch {
		case t.Draining() && now.Before(t.DrainUntil):
			return health.DeregistrationInProgress
		case t.Draining():
			return health.NotRegistered
		case !inUse:
			return health.NotInUse
		case stopped[t.ID]:
			return health.InvalidState
		case offZone[state.Targets.Key(t)]:
			return health.ZoneNotEnabled
		case !tg.HealthCheckEnabled:
			return health.HealthCheckDisabled
		case s.health == nil:
			return health.RegistrationInProgress
		}
		return s.health.Status(tg.ARN, t.ID, t.Port)
	}
	describe := func(t *state.Target, st health.Status) types.TargetHealthDescription {
		d := types.TargetHealthDescription{
			Target:                 &types.TargetDescription{Id: ptr(t.ID)},
			TargetHealth:           &types.TargetHealth{State: types.TargetHealthStateEnum(st.State)},
			AdministrativeOverride: &types.AdministrativeOverride{State: types.TargetAdministrativeOverrideStateEnumNoOverride, Reason: types.TargetAdministrativeOverrideReasonEnumNoOverrideEngaged, Description: ptr("No override is currently active on target")},
		}
		if tg.TargetType != targetLambda {
			d.Target.Port = ptr(t.Port)
			d.HealthCheckPort = ptr(strconv.Itoa(int(state.HealthCheckPort(tg, t))))
		}
		if t.AvailabilityZone != "" {
			d.Target.AvailabilityZone = ptr(t.AvailabilityZone)
		}
		if t.QuicServerID != "" {
			d.Target.QuicServerId = ptr(t.QuicServerID)
		}
		if st.Reason != "" {
			d.TargetHealth.Reason = types.TargetHealthReasonEnum(st.Reason)
		}
		if st.Description != "" {
			d.TargetHealth.Description = ptr(st.Description)
		}
		if includeAnomaly && tgFamily(tg) == typeApplication {
			d.AnomalyDetection = &types.AnomalyDetection{Result: types.AnomalyResultEnumNormal, MitigationInEffect: types.MitigationInEffectEnumNo}
		}
		return d
	}
	out := &sdk.DescribeTargetHealthOutput{TargetHealthDescriptions: []types.TargetHealthDescription{}}
	if len(in.Targets) == 0 {
		for _, t := range targets {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(t, status(t)))
		}
		return out, nil
	}
	for _, d := range in.Targets {
		if d.Id == nil || *d.Id == "" {
			return nil, missing("targets.member.id")
		}
		id := *d.Id
		if a, err := netip.ParseAddr(id); err == nil {
			id = a.Unmap().String()
		}
		found := false
		for _, t := range targets {
			if t.ID == id && (d.Port == nil || *d.Port == t.Port) {
				out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(t, status(t)))
				found = true
			}
		}
		if !found {
			t := &state.Target{ID: id, Port: tg.Port, AvailabilityZone: str(d.AvailabilityZone)}
			if d.Port != nil {
				t.Port = *d.Port
			}
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(t, health.NotRegistered))
		}
	}
	return out, nil
}

// Run does the service's background work until ctx ends: it removes
// targets whose deregistration delay has passed and records load balancers
// whose provisioning time has passed as active. Call it once.
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(s.reapEvery)
	defer tick.Stop()
	for {
		if err := s.Reap(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("elbv2 background work", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Reap performs one round of Run's work now. It reads the state only when
// something may be due (the service notes the earliest deadline of what it
// writes), and writes only when something is.
func (s *Service) Reap(ctx context.Context) error {
	now := s.now()
	if due := s.nextDue.Load(); due != 0 && now.UnixNano() < due {
		return nil
	}
	var next int64 = math.MaxInt64
	due := func(tx *state.Tx) (targets []*state.Target, lbs []*state.LoadBalancer, err error) {
		next = math.MaxInt64
		err = state.ForEachPrefix(tx, state.Targets, "", func(t *state.Target) error {
			switch {
			case !t.Draining():
			case !now.Before(t.DrainUntil):
				targets = append(targets, t)
			default:
				next = min(next, t.DrainUntil.UnixNano())
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		err = state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
			switch {
			case lb.State != stateProvisioning:
			case !now.Before(lb.ActiveAt):
				lbs = append(lbs, lb)
			default:
				next = min(next, lb.ActiveAt.UnixNano())
			}
			return nil
		})
		return targets, lbs, err
	}
	// Record the next deadline unless a write noted an earlier one
	// meanwhile.
	seen := s.nextDue.Load()
	record := func() { s.nextDue.CompareAndSwap(seen, next) }
	var pending bool
	err := s.view(ctx, func(tx *state.Tx) error {
		ts, lbs, err := due(tx)
		pending = len(ts)+len(lbs) > 0
		return err
	})
	if err != nil {
		return err
	}
	if !pending {
		record()
		return nil
	}
	var removed, activated int
	err = s.store.Update(ctx, func(tx *state.Tx) error {
		ts, lbs, err := due(tx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if _, err := state.Delete(tx, state.Targets, state.Targets.Key(t)); err != nil {
				return err
			}
		}
		for _, lb := range lbs {
			lb.State = stateActive
			if err := state.Put(tx, state.LoadBalancers, lb); err != nil {
				return err
			}
		}
		removed, activated = len(ts), len(lbs)
		return nil
	})
	if err != nil {
		return err
	}
	record()
	s.log.LogAttrs(ctx, slog.LevelDebug, "elbv2 background work", slog.Int("targetsRemoved", removed), slog.Int("loadBalancersActive", activated))
	return nil
}

// noteDue records that background work falls due at t.
func (s *Service) noteDue(t time.Time) {
	v := t.UnixNano()
	for {
		cur := s.nextDue.Load()
		if cur != 0 && cur <= v {
			return
		}
		if s.nextDue.CompareAndSwap(cur, v) {
			return
		}
	}
}

package elbv2

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// DescribeSSLPolicies lists the security policies of HTTPS and TLS
// listeners, from internal/elb/sslpolicy (API_DescribeSSLPolicies).
func (s *Service) DescribeSSLPolicies(ctx context.Context, in *sdk.DescribeSSLPoliciesInput) (*sdk.DescribeSSLPoliciesOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lbType := string(in.LoadBalancerType)
	if lbType != "" && lbType != typeApplication && lbType != typeNetwork && lbType != typeGateway {
		return nil, badEnum("loadBalancerType", lbType, typeApplication, typeNetwork, typeGateway)
	}
	all := sslpolicy.All()
	var picked []*sslpolicy.Policy
	if len(in.Names) > 0 {
		for _, name := range dedupe(in.Names) {
			p, ok := sslpolicy.Lookup(name)
			if !ok {
				return nil, errf(codeSSLPolicyNotFound, "One or more SSL policies not found")
			}
			picked = append(picked, p)
		}
	} else {
		picked = all
	}
	order := map[string]int{}
	for i, p := range all {
		order[p.Name] = i
	}
	var keep []*sslpolicy.Policy
	for _, p := range picked {
		if lbType == "" || slices.Contains(p.SupportedLoadBalancerTypes, lbType) {
			keep = append(keep, p)
		}
	}
	page, next, err := paginate(s.tokens.Scope("DescribeSSLPolicies"), keep, func(p *sslpolicy.Policy) string { return fmt.Sprintf("%05d", order[p.Name]) }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeSSLPoliciesOutput{SslPolicies: make([]types.SslPolicy, 0, len(page)), NextMarker: next}
	for _, p := range page {
		sp := types.SslPolicy{
			Name:                       ptr(p.Name),
			SslProtocols:               slices.Clone(p.Protocols),
			SupportedLoadBalancerTypes: slices.Clone(p.SupportedLoadBalancerTypes),
		}
		for _, c := range p.Ciphers {
			sp.Ciphers = append(sp.Ciphers, types.Cipher{Name: ptr(c.Name), Priority: ptr(c.Priority)})
		}
		out.SslPolicies = append(out.SslPolicies, sp)
	}
	return out, nil
}

// Trust stores hold the CA certificates that mutual TLS verifies client
// certificates against. Their bundles come from S3 on AWS; locally from
// Config.Objects, where the object BUCKET/KEY is the file at that path.

// CreateTrustStore creates a trust store from a CA certificate bundle
// (API_CreateTrustStore).
func (s *Service) CreateTrustStore(ctx context.Context, in *sdk.CreateTrustStoreInput) (*sdk.CreateTrustStoreOutput, error) {
	if in.Name == nil {
		return nil, missing("name")
	}
	if err := checkName("Trust store", *in.Name, false); err != nil {
		return nil, err
	}
	if in.CaCertificatesBundleS3Bucket == nil {
		return nil, missing("caCertificatesBundleS3Bucket")
	}
	if in.CaCertificatesBundleS3Key == nil {
		return nil, missing("caCertificatesBundleS3Key")
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	n, bundle, err := s.readBundle(*in.CaCertificatesBundleS3Bucket, *in.CaCertificatesBundleS3Key)
	if err != nil {
		return nil, err
	}
	var ts *state.TrustStore
	err = s.update(ctx, "CreateTrustStore", in.Name, func(tx *state.Tx) error {
		all, err := state.List(tx, state.TrustStores)
		if err != nil {
			return err
		}
		for _, t := range all {
			if t.Name == *in.Name {
				return errf(codeDuplicateTrustStoreName, "A trust store with the name '%s' already exists", *in.Name)
			}
		}
		if len(all) >= s.limits.TrustStores {
			return errf(codeTooManyTrustStores, "You've reached the limit on the number of trust stores for your AWS account (%d)", s.limits.TrustStores)
		}
		ts = &state.TrustStore{
			ARN: s.trustStoreARN(*in.Name, s.newID()), Name: *in.Name, Status: string(types.TrustStoreStatusActive),
			NumberOfCACertificates: int32(n), CABundlePEM: bundle, CreatedTime: s.now().UTC().Truncate(time.Millisecond),
		}
		if err := state.Put(tx, state.TrustStores, ts); err != nil {
			return err
		}
		return s.putNewTags(tx, ts.ARN, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.CreateTrustStoreOutput{TrustStores: []types.TrustStore{renderTrustStore(ts)}}, nil
}

// readBundle reads and checks a CA bundle: PEM certificates, all CAs.
func (s *Service) readBundle(bucket, key string) (int, string, error) {
	if s.objects == nil {
		return 0, "", errf(codeCaBundleNotFound, "The CA certificates bundle s3://%s/%s does not exist (the local ELB has no object store configured)", bucket, key)
	}
	name := path.Clean(bucket + "/" + key)
	if !fs.ValidPath(name) {
		return 0, "", errf(codeCaBundleNotFound, "The CA certificates bundle s3://%s/%s does not exist", bucket, key)
	}
	b, err := fs.ReadFile(s.objects, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return 0, "", errf(codeCaBundleNotFound, "The CA certificates bundle s3://%s/%s does not exist", bucket, key)
	}
	if err != nil {
		return 0, "", fmt.Errorf("read CA bundle %s: %w", name, err)
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if blk.Type != "CERTIFICATE" || err != nil || !c.IsCA {
			return 0, "", errf(codeInvalidCaBundle, "The CA certificates bundle s3://%s/%s holds an entry that is not a CA certificate", bucket, key)
		}
		n++
	}
	if n == 0 {
		return 0, "", errf(codeInvalidCaBundle, "The CA certificates bundle s3://%s/%s holds no PEM certificate", bucket, key)
	}
	return n, string(b), nil
}

// DeleteTrustStore deletes a trust store no listener uses
// (API_DeleteTrustStore).
func (s *Service) DeleteTrustStore(ctx context.Context, in *sdk.DeleteTrustStoreInput) (*sdk.DeleteTrustStoreOutput, error) {
	if in.TrustStoreArn == nil {
		return nil, missing("trustStoreArn")
	}
	err := s.update(ctx, "DeleteTrustStore", in.TrustStoreArn, func(tx *state.Tx) error {
		if err := resourceExists(tx, *in.TrustStoreArn); err != nil {
			return err
		}
		err := state.ForEachPrefix(tx, state.Listeners, "", func(l *state.Listener) error {
			if m := l.MutualAuthentication; m != nil && str(m.TrustStoreArn) == *in.TrustStoreArn {
				return errf(codeTrustStoreInUse, "Trust store '%s' is in use by listener '%s'", *in.TrustStoreArn, l.ARN)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := state.Delete(tx, state.TrustStores, *in.TrustStoreArn); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Tags, *in.TrustStoreArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DeleteTrustStoreOutput{}, nil
}

// DescribeTrustStores lists trust stores, all or those named by ARN or
// name, paginated (API_DescribeTrustStores).
func (s *Service) DescribeTrustStores(ctx context.Context, in *sdk.DescribeTrustStoresInput) (*sdk.DescribeTrustStoresOutput, error) {
	if len(in.Names) > 0 && len(in.TrustStoreArns) > 0 {
		return nil, validation("Trust store names and trust store ARNs cannot be specified at the same time")
	}
	var all []*state.TrustStore
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		all, err = state.List(tx, state.TrustStores)
		return err
	})
	if err != nil {
		return nil, err
	}
	var picked []*state.TrustStore
	switch {
	case len(in.TrustStoreArns) > 0:
		for _, arn := range dedupe(in.TrustStoreArns) {
			i := slices.IndexFunc(all, func(t *state.TrustStore) bool { return t.ARN == arn })
			if i < 0 {
				return nil, errf(codeTrustStoreNotFound, "One or more trust stores not found")
			}
			picked = append(picked, all[i])
		}
	case len(in.Names) > 0:
		for _, name := range dedupe(in.Names) {
			i := slices.IndexFunc(all, func(t *state.TrustStore) bool { return t.Name == name })
			if i < 0 {
				return nil, errf(codeTrustStoreNotFound, "One or more trust stores not found")
			}
			picked = append(picked, all[i])
		}
	default:
		picked = all
	}
	page, next, err := paginate(s.tokens.Scope("DescribeTrustStores"), picked, func(t *state.TrustStore) string { return t.Name + " " + t.ARN }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeTrustStoresOutput{TrustStores: make([]types.TrustStore, 0, len(page)), NextMarker: next}
	for _, t := range page {
		out.TrustStores = append(out.TrustStores, renderTrustStore(t))
	}
	return out, nil
}

func renderTrustStore(t *state.TrustStore) types.TrustStore {
	return types.TrustStore{
		TrustStoreArn: ptr(t.ARN), Name: ptr(t.Name), Status: types.TrustStoreStatus(t.Status),
		NumberOfCaCertificates: ptr(t.NumberOfCACertificates), TotalRevokedEntries: ptr(int64(0)),
	}
}

// capacityDecreasesPerDay is how often a capacity reservation may be
// lowered in a day ("Request Load balancer Capacity Unit reservation").
const capacityDecreasesPerDay = 2

// DescribeCapacityReservation reports a load balancer's capacity
// reservation (API_DescribeCapacityReservation).
func (s *Service) DescribeCapacityReservation(ctx context.Context, in *sdk.DescribeCapacityReservationInput) (*sdk.DescribeCapacityReservationOutput, error) {
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	var lb *state.LoadBalancer
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		lb, err = getLB(tx, *in.LoadBalancerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeCapacityReservationOutput{}
	s.fillCapacity(lb, &out.CapacityReservationState, &out.DecreaseRequestsRemaining, &out.LastModifiedTime, &out.MinimumLoadBalancerCapacity)
	return out, nil
}

func (s *Service) fillCapacity(lb *state.LoadBalancer, zones *[]types.ZonalCapacityReservationState, remaining **int32, modified **time.Time, min **types.MinimumLoadBalancerCapacity) {
	*remaining = ptr(int32(capacityDecreasesPerDay - len(recentDecreases(lb, s.now()))))
	if !lb.CapacityModifiedAt.IsZero() {
		*modified = ptr(lb.CapacityModifiedAt)
	}
	*zones = []types.ZonalCapacityReservationState{}
	if lb.MinimumCapacityUnits == 0 {
		return
	}
	*min = &types.MinimumLoadBalancerCapacity{CapacityUnits: ptr(lb.MinimumCapacityUnits)}
	for _, z := range lb.Zones {
		*zones = append(*zones, types.ZonalCapacityReservationState{
			AvailabilityZone:       ptr(z.ZoneName),
			EffectiveCapacityUnits: ptr(float64(lb.MinimumCapacityUnits) / float64(len(lb.Zones))),
			State:                  &types.CapacityReservationStatus{Code: types.CapacityReservationStateEnumProvisioned},
		})
	}
}

func recentDecreases(lb *state.LoadBalancer, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range lb.CapacityDecreases {
		if now.Sub(t) < 24*time.Hour {
			out = append(out, t)
		}
	}
	return out
}

// ModifyCapacityReservation sets or resets a load balancer's minimum
// capacity; the reservation is provisioned at once. It may be lowered
// twice a day (API_ModifyCapacityReservation).
func (s *Service) ModifyCapacityReservation(ctx context.Context, in *sdk.ModifyCapacityReservationInput) (*sdk.ModifyCapacityReservationOutput, error) {
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	reset := in.ResetCapacityReservation != nil && *in.ResetCapacityReservation
	if (in.MinimumLoadBalancerCapacity != nil) == reset {
		return nil, validation("You must specify either MinimumLoadBalancerCapacity or ResetCapacityReservation")
	}
	var units int32
	if !reset {
		if in.MinimumLoadBalancerCapacity.CapacityUnits == nil {
			return nil, missing("minimumLoadBalancerCapacity.capacityUnits")
		}
		units = *in.MinimumLoadBalancerCapacity.CapacityUnits
		if units < 1 {
			return nil, outOfRange("minimumLoadBalancerCapacity.capacityUnits", int64(units), 1, int64(s.limits.ReservedLCUsPerALB))
		}
		if int(units) > s.limits.ReservedLCUsPerALB {
			return nil, errf(codeCapacityUnitsLimit, "You've reached the limit on the number of capacity units reserved for a load balancer (%d)", s.limits.ReservedLCUsPerALB)
		}
	}
	var lb *state.LoadBalancer
	err := s.update(ctx, "ModifyCapacityReservation", in.LoadBalancerArn, func(tx *state.Tx) error {
		var err error
		if lb, err = getLB(tx, *in.LoadBalancerArn); err != nil {
			return err
		}
		if lb.Type == typeGateway {
			return errf(codeOperationNotPermitted, "Capacity reservations are not supported by Gateway Load Balancers")
		}
		if lb.Type == typeNetwork {
			ls, err := listenersOf(tx, lb.ARN)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if l.Protocol == "TLS" {
					return errf(codeOperationNotPermitted, "Capacity reservations are not supported by Network Load Balancers with TLS listeners")
				}
			}
		}
		now := s.now().UTC()
		if units < lb.MinimumCapacityUnits {
			recent := recentDecreases(lb, now)
			if len(recent) >= capacityDecreasesPerDay {
				return errf(codeCapacityDecreaseLimit, "You've reached the limit of %d capacity decrease requests per day", capacityDecreasesPerDay)
			}
			lb.CapacityDecreases = append(recent, now)
		}
		lb.MinimumCapacityUnits = units
		lb.CapacityModifiedAt = now.Truncate(time.Millisecond)
		return state.Put(tx, state.LoadBalancers, lb)
	})
	if err != nil {
		return nil, err
	}
	out := &sdk.ModifyCapacityReservationOutput{}
	s.fillCapacity(lb, &out.CapacityReservationState, &out.DecreaseRequestsRemaining, &out.LastModifiedTime, &out.MinimumLoadBalancerCapacity)
	return out, nil
}

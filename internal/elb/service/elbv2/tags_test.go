package elbv2_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func TestTagsRoundTrip(t *testing.T) {
	e := start(t)
	lb, l, tg := e.ruleSetup(t)
	r := must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: pathIs("/"), Actions: forward(tg.TargetGroupArn)})).Rules[0]
	def := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn})).Rules[1].RuleArn
	arns := []string{*lb.LoadBalancerArn, *tg.TargetGroupArn, *l.ListenerArn, *r.RuleArn, *def}
	// Values exactly as given: empty, spaces, unicode, the allowed punctuation.
	tags := []types.Tag{
		{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("demo")},
		{Key: aws.String("ingress.k8s.aws/stack"), Value: aws.String("ns/name")},
		{Key: aws.String("empty"), Value: aws.String("")},
		{Key: aws.String("spaces in key"), Value: aws.String(" lead and trail ")},
		{Key: aws.String("ünïcødé"), Value: aws.String("日本 +-=._:/@")},
	}
	must[*sdk.AddTagsOutput](t)(e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns, Tags: tags}))
	out := must[*sdk.DescribeTagsOutput](t)(e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: arns}))
	if len(out.TagDescriptions) != len(arns) {
		t.Fatalf("descriptions %d", len(out.TagDescriptions))
	}
	for i, d := range out.TagDescriptions {
		if *d.ResourceArn != arns[i] {
			t.Errorf("description %d for %s, want %s", i, *d.ResourceArn, arns[i])
		}
		got := d.Tags
		if *d.ResourceArn == *lb.LoadBalancerArn || *d.ResourceArn == *tg.TargetGroupArn || *d.ResourceArn == *l.ListenerArn || *d.ResourceArn == *r.RuleArn || *d.ResourceArn == *def {
			if fmt.Sprint(tagMap(got)) != fmt.Sprint(tagMap(tags)) {
				t.Errorf("%s tags %v, want %v", *d.ResourceArn, tagMap(got), tagMap(tags))
			}
		}
	}
	// Overwrite a value, remove keys (unknown keys are ignored).
	must[*sdk.AddTagsOutput](t)(e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String("empty"), Value: aws.String("now set")}}}))
	must[*sdk.RemoveTagsOutput](t)(e.elb.RemoveTags(ctx, &sdk.RemoveTagsInput{ResourceArns: arns[:1], TagKeys: []string{"spaces in key", "never"}}))
	m := tagMap(must[*sdk.DescribeTagsOutput](t)(e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: arns[:1]})).TagDescriptions[0].Tags)
	if len(m) != 4 || m["empty"] != "now set" {
		t.Errorf("after update %v", m)
	}

	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"aws prefix", func() error {
			_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String("AWS:x"), Value: aws.String("")}}})
			return err
		}, "ValidationError"},
		{"duplicate keys", func() error {
			_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("")}, {Key: aws.String("a"), Value: aws.String("b")}}})
			return err
		}, "DuplicateTagKeys"},
		{"key too long", func() error {
			_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("")}}})
			return err
		}, "ValidationError"},
		{"value too long", func() error {
			_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}})
			return err
		}, "ValidationError"},
		{"unknown load balancer", func() error {
			_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: []string{*lb.LoadBalancerArn + "0"}, Tags: tags[:1]})
			return err
		}, "LoadBalancerNotFound"},
		{"unknown target group", func() error {
			_, err := e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: []string{*tg.TargetGroupArn + "0"}})
			return err
		}, "TargetGroupNotFound"},
		{"unknown listener", func() error {
			_, err := e.elb.RemoveTags(ctx, &sdk.RemoveTagsInput{ResourceArns: []string{*l.ListenerArn + "0"}, TagKeys: []string{"a"}})
			return err
		}, "ListenerNotFound"},
		{"not an ELB ARN", func() error {
			_, err := e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: []string{"arn:aws:ec2:us-east-1:000000000000:instance/i-1"}})
			return err
		}, "ValidationError"},
		{"21 ARNs", func() error {
			var many []string
			for range 21 {
				many = append(many, *lb.LoadBalancerArn)
			}
			_, err := e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: many})
			return err
		}, "ValidationError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { apiErr(t, c.call(), c.code) })
	}
}

func TestTooManyTags(t *testing.T) {
	e := start(t)
	lb := e.alb(t, "web")
	var fifty []types.Tag
	for i := range 50 {
		fifty = append(fifty, types.Tag{Key: aws.String(fmt.Sprintf("k%02d", i)), Value: aws.String("v")})
	}
	must[*sdk.AddTagsOutput](t)(e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: []string{*lb.LoadBalancerArn}, Tags: fifty}))
	_, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: []string{*lb.LoadBalancerArn}, Tags: []types.Tag{{Key: aws.String("one-more"), Value: aws.String("v")}}})
	apiErr(t, err, "TooManyTags")
	// Replacing a value is not a new tag.
	must[*sdk.AddTagsOutput](t)(e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: []string{*lb.LoadBalancerArn}, Tags: []types.Tag{{Key: aws.String("k00"), Value: aws.String("w")}}}))
	_, err = e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("t"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.vpc),
		Tags: append(fifty, types.Tag{Key: aws.String("x"), Value: aws.String("")})})
	apiErr(t, err, "TooManyTags")
}

func TestMiscOperations(t *testing.T) {
	e := start(t)
	lim := must[*sdk.DescribeAccountLimitsOutput](t)(e.elb.DescribeAccountLimits(ctx, &sdk.DescribeAccountLimitsInput{}))
	m := map[string]string{}
	for _, l := range lim.Limits {
		m[*l.Name] = *l.Max
	}
	if m["application-load-balancers"] != "50" || m["target-groups"] != "3000" || m["rules-per-application-load-balancer"] != "100" ||
		m["targets-per-network-load-balancer"] != "3000" || len(m) != 18 {
		t.Errorf("limits %v", m)
	}
	p := sdk.NewDescribeAccountLimitsPaginator(e.elb, &sdk.DescribeAccountLimitsInput{PageSize: aws.Int32(5)})
	n := 0
	for p.HasMorePages() {
		n += len(must[*sdk.DescribeAccountLimitsOutput](t)(p.NextPage(ctx)).Limits)
	}
	if n != 18 {
		t.Errorf("paginated limits %d", n)
	}

	pol := must[*sdk.DescribeSSLPoliciesOutput](t)(e.elb.DescribeSSLPolicies(ctx, &sdk.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-2016-08"}}))
	if len(pol.SslPolicies) != 1 || len(pol.SslPolicies[0].Ciphers) == 0 || len(pol.SslPolicies[0].SslProtocols) == 0 {
		t.Errorf("policy %+v", pol.SslPolicies)
	}
	all := must[*sdk.DescribeSSLPoliciesOutput](t)(e.elb.DescribeSSLPolicies(ctx, &sdk.DescribeSSLPoliciesInput{LoadBalancerType: types.LoadBalancerTypeEnumNetwork}))
	if len(all.SslPolicies) < 10 {
		t.Errorf("network policies %d", len(all.SslPolicies))
	}
	_, err := e.elb.DescribeSSLPolicies(ctx, &sdk.DescribeSSLPoliciesInput{Names: []string{"nope"}})
	apiErr(t, err, "SSLPolicyNotFound")

	// Capacity reservations: provisioned at once, two decreases a day.
	lb := e.alb(t, "web")
	cr := must[*sdk.DescribeCapacityReservationOutput](t)(e.elb.DescribeCapacityReservation(ctx, &sdk.DescribeCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if cr.MinimumLoadBalancerCapacity != nil || *cr.DecreaseRequestsRemaining != 2 {
		t.Errorf("no reservation %+v", cr)
	}
	set := func(units int32) error {
		_, err := e.elb.ModifyCapacityReservation(ctx, &sdk.ModifyCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn,
			MinimumLoadBalancerCapacity: &types.MinimumLoadBalancerCapacity{CapacityUnits: aws.Int32(units)}})
		return err
	}
	for _, u := range []int32{1000, 800, 900, 500} {
		if err := set(u); err != nil {
			t.Fatalf("set %d: %v", u, err)
		}
	}
	apiErr(t, set(400), "CapacityDecreaseRequestLimitExceeded")
	apiErr(t, set(20000), "CapacityUnitsLimitExceeded")
	cr = must[*sdk.DescribeCapacityReservationOutput](t)(e.elb.DescribeCapacityReservation(ctx, &sdk.DescribeCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if *cr.MinimumLoadBalancerCapacity.CapacityUnits != 500 || *cr.DecreaseRequestsRemaining != 0 || len(cr.CapacityReservationState) != 2 ||
		*cr.CapacityReservationState[0].EffectiveCapacityUnits != 250 || cr.CapacityReservationState[0].State.Code != "provisioned" {
		t.Errorf("reservation %+v", cr)
	}
	e.clock.Add(25 * 60 * 60 * 1e9)
	must[*sdk.ModifyCapacityReservationOutput](t)(e.elb.ModifyCapacityReservation(ctx, &sdk.ModifyCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn, ResetCapacityReservation: aws.Bool(true)}))
	_, err = e.elb.ModifyCapacityReservation(ctx, &sdk.ModifyCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn})
	apiErr(t, err, "ValidationError")
}

// TestConcurrentCreatesAndRegistrations runs 50 clients at once, each
// creating a target group (half of them the same name), a load balancer
// and registering targets in one shared target group: no update is lost,
// nothing is duplicated, and the only errors are documented ones.
func TestConcurrentCreatesAndRegistrations(t *testing.T) {
	e := start(t)
	shared := e.tg(t, "shared", types.ProtocolEnumHttp, 80)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	tgARNs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("tg-%d", i)
			if i%2 == 0 {
				name = "same"
			}
			out, err := e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.vpc)})
			if err != nil {
				errs <- err
				return
			}
			tgARNs[i] = *out.TargetGroups[0].TargetGroupArn
			if _, err := e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String(fmt.Sprintf("lb-%d", i%25)), Subnets: e.public[:2],
				Type: types.LoadBalancerTypeEnumNetwork}); err != nil {
				errs <- err
			}
			ts := []types.TargetDescription{target(fmt.Sprintf("10.0.1.%d", i), 0), target(fmt.Sprintf("10.0.2.%d", i), 0)}
			if _, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: shared.TargetGroupArn, Targets: ts}); err != nil {
				errs <- err
			}
			if _, err := e.elb.AddTags(ctx, &sdk.AddTagsInput{ResourceArns: []string{*shared.TargetGroupArn},
				Tags: []types.Tag{{Key: aws.String(fmt.Sprintf("client-%d", i)), Value: aws.String("x")}}}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	same := map[string]bool{}
	for i := 0; i < n; i += 2 {
		same[tgARNs[i]] = true
	}
	if len(same) != 1 {
		t.Errorf("concurrent creates of one name made %d target groups", len(same))
	}
	tgs := must[*sdk.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{}))
	if len(tgs.TargetGroups) != 1+1+n/2 {
		t.Errorf("%d target groups, want %d", len(tgs.TargetGroups), 2+n/2)
	}
	lbs := must[*sdk.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
	if len(lbs.LoadBalancers) != 25 {
		t.Errorf("%d load balancers, want 25", len(lbs.LoadBalancers))
	}
	addrs := map[string]bool{}
	for _, lb := range lbs.LoadBalancers {
		for _, z := range lb.AvailabilityZones {
			for _, a := range []*string{z.LoadBalancerAddresses[0].IpAddress, z.LoadBalancerAddresses[0].PrivateIPv4Address} {
				if addrs[*a] {
					t.Errorf("address %s given twice", *a)
				}
				addrs[*a] = true
			}
		}
	}
	h := must[*sdk.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: shared.TargetGroupArn}))
	if len(h.TargetHealthDescriptions) != 2*n {
		t.Errorf("%d targets registered, want %d", len(h.TargetHealthDescriptions), 2*n)
	}
	tags := must[*sdk.DescribeTagsOutput](t)(e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: []string{*shared.TargetGroupArn}}))
	if len(tags.TagDescriptions[0].Tags) != n {
		t.Errorf("%d tags, want %d", len(tags.TagDescriptions[0].Tags), n)
	}
}

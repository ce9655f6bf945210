package nlb_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/dataplane/nlb"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// cloud is the local ELB the SDK tests share, as a user's tools do: the
// ELBv2, EC2 and ACM services over the real wire on one state, and one
// data plane fed every state change. Sharing it gives every load balancer
// its own address from the state's pool.
type cloud struct {
	store  *state.Store
	plane  *nlb.Plane
	clock  *fakeClock
	reg    *prometheus.Registry
	facts  *facts.Facts
	elb    *elbsdk.Client
	ec2    *ec2sdk.Client
	acm    *acmsdk.Client
	vpc    string
	subnet map[string]map[bool]string // zone -> public? -> subnet ID
}

var shared *cloud

func TestMain(m *testing.M) {
	os.Exit(func() int {
		c, stop, err := startCloud()
		if err != nil {
			fmt.Fprintln(os.Stderr, "nlb tests: local ELB:", err)
			return 1
		}
		defer stop()
		shared = c
		return m.Run()
	}())
}

func startCloud() (*cloud, func(), error) {
	dir, err := os.MkdirTemp("", "nlb-test-state-")
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	// Other test processes (the ALB's, the controller's) run local ELBs
	// of their own, which hand out load balancer addresses from the start
	// of the pool: this one starts at a random place in it.
	start := netip.AddrFrom4([4]byte{127, 77, byte(100 + rand.IntN(150)), 1})
	if err := st.Update(ctx, func(tx *state.Tx) error {
		return state.SeedLoopback(tx, state.LoadBalancerPool, start)
	}); err != nil {
		return nil, nil, err
	}
	f := facts.Default(facts.DefaultRegion, "nlbtest")
	if err := ec2.Bootstrap(ctx, st, f); err != nil {
		return nil, nil, err
	}
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	level := slog.LevelWarn
	if os.Getenv("NLB_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	h, err := api.NewHandler(api.Config{
		Region:      facts.DefaultRegion,
		Credentials: map[string]string{svctest.AccessKeyID: svctest.SecretAccessKey},
		Services: []api.Service{
			elbv2.New(elbv2.Config{Store: st, Now: clk.Now, ProvisioningDelay: -1}).API(),
			ec2.New(ec2.Config{Store: st}).API(),
			acm.New(acm.Config{Store: st}).API(),
		},
	})
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(h)
	cfg := aws.Config{
		Region:           facts.DefaultRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(svctest.AccessKeyID, svctest.SecretAccessKey, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 3,
		HTTPClient:       srv.Client(),
	}
	reg := prometheus.NewRegistry()
	plane, err := nlb.New(nlb.Config{Addresses: vpcaddr.Default(), Logger: log, Registerer: reg, Now: clk.Now})
	if err != nil {
		return nil, nil, err
	}
	c := &cloud{store: st, plane: plane, clock: clk, reg: reg, facts: f,
		elb: elbsdk.NewFromConfig(cfg), ec2: ec2sdk.NewFromConfig(cfg), acm: acmsdk.NewFromConfig(cfg),
		vpc: f.VPCs[0].ID, subnet: map[string]map[bool]string{}}
	for _, sn := range f.Subnets {
		if c.subnet[sn.AvailabilityZone] == nil {
			c.subnet[sn.AvailabilityZone] = map[bool]string{}
		}
		c.subnet[sn.AvailabilityZone][sn.Public] = sn.ID
	}
	// Every state change reaches the data plane, as in the server.
	changes, unsubscribe := st.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range changes {
			c.apply()
		}
	}()
	c.apply()
	stop := func() {
		unsubscribe()
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		plane.Close(ctx)
		srv.Close()
		st.Close()
		os.RemoveAll(dir)
	}
	return c, stop, nil
}

func (c *cloud) apply() {
	snap, err := c.store.Snapshot()
	if err != nil {
		return
	}
	c.plane.Apply(snap)
}

// sdk returns the shared cloud, failing the test when there is none.
func (e *env) sdk() *cloud {
	e.t.Helper()
	if e.c == nil {
		e.t.Fatal("this helper needs the SDK-backed cloud (newEnv)")
	}
	return e.c
}

// synced applies the state after an API call, so that the test goes on
// with the data plane up to date (the subscription applies it too, within
// a sweep).
func (e *env) synced() { e.c.apply() }

var nameChars = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// name makes an ELBv2 name (at most 32 letters, digits and hyphens) that
// is unique in the shared cloud.
func (e *env) name(base string) string {
	e.names++
	base = strings.Trim(nameChars.ReplaceAllString(base, "-"), "-")
	suffix := fmt.Sprintf("-%d-%d", e.seq, e.names)
	if len(base) > 32-len(suffix) {
		base = strings.TrimRight(base[:32-len(suffix)], "-")
	}
	return base + suffix
}

func (e *env) sdkCreateLB(name string, spec lbSpec) *lb {
	c := e.sdk()
	ctx := context.Background()
	in := &elbsdk.CreateLoadBalancerInput{Name: aws.String(e.name(name)), Type: elbv2types.LoadBalancerTypeEnumNetwork,
		Scheme: elbv2types.LoadBalancerSchemeEnum(spec.scheme), SecurityGroups: spec.sgs}
	for _, z := range spec.zones {
		in.Subnets = append(in.Subnets, c.subnet[z][spec.scheme != "internal"])
	}
	out, err := c.elb.CreateLoadBalancer(ctx, in)
	if err != nil {
		e.t.Fatalf("CreateLoadBalancer: %v", err)
	}
	d := out.LoadBalancers[0]
	l := &lb{arn: aws.ToString(d.LoadBalancerArn), addrs: map[string]netip.Addr{}, nodes: map[string]netip.Addr{}}
	for _, az := range d.AvailabilityZones {
		for _, a := range az.LoadBalancerAddresses {
			l.addrs[aws.ToString(az.ZoneName)] = netip.MustParseAddr(aws.ToString(a.IpAddress))
			l.nodes[aws.ToString(az.ZoneName)] = netip.MustParseAddr(aws.ToString(a.PrivateIPv4Address))
		}
	}
	if len(l.addrs) != len(spec.zones) {
		e.t.Fatalf("load balancer addresses %+v", d.AvailabilityZones)
	}
	for k, v := range spec.attrs {
		e.setLBAttr(l, k, v)
	}
	e.synced()
	return l
}

func (e *env) sdkSetLBAttr(l *lb, k, v string) {
	_, err := e.sdk().elb.ModifyLoadBalancerAttributes(context.Background(), &elbsdk.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String(l.arn), Attributes: []elbv2types.LoadBalancerAttribute{{Key: aws.String(k), Value: aws.String(v)}}})
	if err != nil {
		e.t.Fatalf("ModifyLoadBalancerAttributes %s=%s: %v", k, v, err)
	}
	e.synced()
}

func (e *env) sdkCreateTG(name, protocol, targetType string, attrs map[string]string) string {
	c := e.sdk()
	out, err := c.elb.CreateTargetGroup(context.Background(), &elbsdk.CreateTargetGroupInput{Name: aws.String(e.name(name)),
		Protocol: elbv2types.ProtocolEnum(protocol), Port: aws.Int32(80), VpcId: aws.String(c.vpc), TargetType: elbv2types.TargetTypeEnum(targetType)})
	if err != nil {
		e.t.Fatalf("CreateTargetGroup: %v", err)
	}
	arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
	if len(attrs) > 0 {
		var as []elbv2types.TargetGroupAttribute
		for k, v := range attrs {
			as = append(as, elbv2types.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := c.elb.ModifyTargetGroupAttributes(context.Background(), &elbsdk.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn), Attributes: as}); err != nil {
			e.t.Fatalf("ModifyTargetGroupAttributes %v: %v", attrs, err)
		}
	}
	e.synced()
	return arn
}

func (e *env) sdkSetTGAttr(tg, k, v string) {
	_, err := e.sdk().elb.ModifyTargetGroupAttributes(context.Background(), &elbsdk.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(tg), Attributes: []elbv2types.TargetGroupAttribute{{Key: aws.String(k), Value: aws.String(v)}}})
	if err != nil {
		e.t.Fatalf("ModifyTargetGroupAttributes %s=%s: %v", k, v, err)
	}
	e.synced()
}

func (e *env) sdkCreateListener(l *lb, spec listenerSpec) uint16 {
	c := e.sdk()
	ctx := context.Background()
	act := elbv2types.Action{Type: elbv2types.ActionTypeEnumForward}
	if len(spec.tgs) == 1 {
		act.TargetGroupArn = aws.String(spec.tgs[0])
	} else {
		fc := &elbv2types.ForwardActionConfig{}
		for i, tg := range spec.tgs {
			fc.TargetGroups = append(fc.TargetGroups, elbv2types.TargetGroupTuple{TargetGroupArn: aws.String(tg), Weight: aws.Int32(spec.weights[i])})
		}
		if spec.sticky {
			fc.TargetGroupStickinessConfig = &elbv2types.TargetGroupStickinessConfig{Enabled: aws.Bool(true)}
		}
		act.ForwardConfig = fc
	}
	in := &elbsdk.CreateListenerInput{LoadBalancerArn: aws.String(l.arn), Port: aws.Int32(int32(spec.port)), Protocol: elbv2types.ProtocolEnum(spec.protocol),
		DefaultActions: []elbv2types.Action{act}}
	if spec.policy != "" {
		in.SslPolicy = aws.String(spec.policy)
	}
	if spec.alpn != "" {
		in.AlpnPolicy = []string{spec.alpn}
	}
	if len(spec.certs) > 0 {
		in.Certificates = []elbv2types.Certificate{{CertificateArn: aws.String(spec.certs[0])}}
	}
	out, err := c.elb.CreateListener(ctx, in)
	if err != nil {
		e.t.Fatalf("CreateListener %s:%d: %v", spec.protocol, spec.port, err)
	}
	arn := out.Listeners[0].ListenerArn
	if len(spec.certs) > 1 {
		var sni []elbv2types.Certificate
		for _, c := range spec.certs[1:] {
			sni = append(sni, elbv2types.Certificate{CertificateArn: aws.String(c)})
		}
		if _, err := c.elb.AddListenerCertificates(ctx, &elbsdk.AddListenerCertificatesInput{ListenerArn: arn, Certificates: sni}); err != nil {
			e.t.Fatalf("AddListenerCertificates: %v", err)
		}
	}
	if len(spec.attrs) > 0 {
		var as []elbv2types.ListenerAttribute
		for k, v := range spec.attrs {
			as = append(as, elbv2types.ListenerAttribute{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := c.elb.ModifyListenerAttributes(ctx, &elbsdk.ModifyListenerAttributesInput{ListenerArn: arn, Attributes: as}); err != nil {
			e.t.Fatalf("ModifyListenerAttributes %v: %v", spec.attrs, err)
		}
	}
	e.synced()
	return spec.port
}

func (e *env) sdkRegister(tg string, bs ...*backend) {
	var ts []elbv2types.TargetDescription
	for _, b := range bs {
		ts = append(ts, elbv2types.TargetDescription{Id: aws.String(b.id), Port: aws.Int32(int32(b.port))})
	}
	if _, err := e.sdk().elb.RegisterTargets(context.Background(), &elbsdk.RegisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: ts}); err != nil {
		e.t.Fatalf("RegisterTargets: %v", err)
	}
	e.synced()
}

// sdkDeregister deregisters a target; it drains for the target group's
// deregistration delay (the test passes the deadline it expects).
func (e *env) sdkDeregister(tg string, b *backend, until time.Time) {
	c := e.sdk()
	if _, err := c.elb.DeregisterTargets(context.Background(), &elbsdk.DeregisterTargetsInput{TargetGroupArn: aws.String(tg),
		Targets: []elbv2types.TargetDescription{{Id: aws.String(b.id), Port: aws.Int32(int32(b.port))}}}); err != nil {
		e.t.Fatalf("DeregisterTargets: %v", err)
	}
	e.synced()
	var got time.Time
	c.store.View(func(tx *state.Tx) error {
		if t, ok, _ := state.Get(tx, state.Targets, state.TargetKey(tg, b.id, int32(b.port))); ok {
			got = t.DrainUntil
		}
		return nil
	})
	if !got.Equal(until) {
		e.t.Fatalf("target drains until %v, want %v", got, until)
	}
}

// sdkAddInstance launches an EC2 instance holding a backend's VPC address;
// the backend is then registered by instance ID.
func (e *env) sdkAddInstance(b *backend, zone string) {
	c := e.sdk()
	out, err := c.ec2.RunInstances(context.Background(), &ec2sdk.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Micro, SubnetId: aws.String(c.subnet[zone][false]), PrivateIpAddress: aws.String(b.vpc.String())})
	if err != nil {
		e.t.Fatalf("RunInstances: %v", err)
	}
	b.id = aws.ToString(out.Instances[0].InstanceId)
}

// sdkAddCert imports a certificate into ACM.
func (e *env) sdkAddCert(names ...string) string {
	certPEM, keyPEM := selfSigned(e.t, names...)
	out, err := e.sdk().acm.ImportCertificate(context.Background(), &acmsdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})
	if err != nil {
		e.t.Fatalf("ImportCertificate: %v", err)
	}
	return aws.ToString(out.CertificateArn)
}

// sdkCreateSG creates a security group admitting TCP and UDP on every port
// from one address.
func (e *env) sdkCreateSG(from netip.Addr) string {
	c := e.sdk()
	ctx := context.Background()
	out, err := c.ec2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String(e.name("nlb-sg")), Description: aws.String("nlb test"), VpcId: aws.String(c.vpc)})
	if err != nil {
		e.t.Fatalf("CreateSecurityGroup: %v", err)
	}
	var perms []ec2types.IpPermission
	for _, proto := range []string{"tcp", "udp"} {
		perms = append(perms, ec2types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(1), ToPort: aws.Int32(65535),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String(from.String() + "/32")}}})
	}
	if _, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{GroupId: out.GroupId, IpPermissions: perms}); err != nil {
		e.t.Fatalf("AuthorizeSecurityGroupIngress: %v", err)
	}
	return aws.ToString(out.GroupId)
}

func (e *env) sdkDeleteListener(l *lb, port uint16) {
	c := e.sdk()
	ctx := context.Background()
	out, err := c.elb.DescribeListeners(ctx, &elbsdk.DescribeListenersInput{LoadBalancerArn: aws.String(l.arn)})
	if err != nil {
		e.t.Fatalf("DescribeListeners: %v", err)
	}
	for _, ls := range out.Listeners {
		if aws.ToInt32(ls.Port) == int32(port) {
			if _, err := c.elb.DeleteListener(ctx, &elbsdk.DeleteListenerInput{ListenerArn: ls.ListenerArn}); err != nil {
				e.t.Fatalf("DeleteListener: %v", err)
			}
		}
	}
	e.synced()
}

func (e *env) sdkDeleteLB(l *lb) {
	if _, err := e.sdk().elb.DeleteLoadBalancer(context.Background(), &elbsdk.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(l.arn)}); err != nil {
		e.t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	e.synced()
}

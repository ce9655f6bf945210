package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// TestEnsureCert generates a CA and a serving certificate for the hosts,
// and keeps (does not regenerate) what the directory already holds.
func TestEnsureCert(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCert(dir, []string{"127.0.0.1", "elbow-webhook.kube-system.svc"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("CA bundle is not PEM")
	}
	for _, host := range []string{"127.0.0.1", "elbow-webhook.kube-system.svc"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("certificate for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.example.com"}); err == nil {
		t.Error("certificate verifies for a host it was not made for")
	}
	before, _ := os.ReadFile(filepath.Join(dir, CertFile))
	again, err := EnsureCert(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CertFile))
	if string(before) != string(after) || string(again) != string(ca) {
		t.Error("an existing certificate was replaced")
	}
	if _, err := EnsureCert(t.TempDir(), nil, time.Now()); err == nil {
		t.Error("no hosts: no error")
	}
}

func TestValidateParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec elbv2api.IngressClassParamsSpec
		want []string
	}{
		{"empty", elbv2api.IngressClassParamsSpec{}, nil},
		{"cidrs", elbv2api.IngressClassParamsSpec{InboundCIDRs: []string{"10.0.0.0/8", "10.1.2.3", "2001:db8::1", "10.1.0.0/8", "nope/8"}},
			[]string{`spec.inboundCIDRs[1]: Invalid value: "10.1.2.3": Could not be parsed as a CIDR (did you mean "10.1.2.3/32")`,
				`spec.inboundCIDRs[2]: Invalid value: "2001:db8::1": Could not be parsed as a CIDR (did you mean "2001:db8::1/64")`,
				`spec.inboundCIDRs[3]: Invalid value: "10.1.0.0/8": Network contains bits outside prefix (did you mean "10.0.0.0/8")`,
				`spec.inboundCIDRs[4]: Invalid value: "nope/8": Could not be parsed as a CIDR`}},
		{"no selector", elbv2api.IngressClassParamsSpec{Subnets: &elbv2api.SubnetSelector{}}, []string{"spec.subnets: Required value: must have either `ids` or `tags`"}},
		{"empty tags", elbv2api.IngressClassParamsSpec{Subnets: &elbv2api.SubnetSelector{Tags: map[string][]string{}}}, []string{"spec.subnets.tags: Required value: must have at least one tag key"}},
		{"dup tag value", elbv2api.IngressClassParamsSpec{Subnets: &elbv2api.SubnetSelector{Tags: map[string][]string{"k": {"a", "a"}}}}, []string{`spec.subnets.tags[k][1]: Duplicate value: "a"`}},
	} {
		var got []string
		for _, e := range ValidateParams(&elbv2api.IngressClassParams{Spec: tc.spec}) {
			got = append(got, e.Error())
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestBindingImmutable(t *testing.T) {
	ip, inst := elbv2api.TargetTypeIP, elbv2api.TargetTypeInstance
	v4, v6 := elbv2api.TargetGroupIPAddressTypeIPv4, elbv2api.TargetGroupIPAddressTypeIPv6
	base := func() *elbv2api.TargetGroupBinding {
		return &elbv2api.TargetGroupBinding{Spec: elbv2api.TargetGroupBindingSpec{TargetGroupARN: "arn:a", TargetType: &ip}}
	}
	v := &BindingValidator{VpcID: "vpc-00000001"}
	for _, tc := range []struct {
		name string
		edit func(old, cur *elbv2api.TargetGroupBinding)
		want string
	}{
		{"same", func(_, _ *elbv2api.TargetGroupBinding) {}, ""},
		{"arn", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.TargetGroupARN = "arn:b" }, "spec.targetGroupARN"},
		{"type", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.TargetType = &inst }, "spec.targetType"},
		{"ip type set to ipv4", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.IPAddressType = &v4 }, ""},
		{"ip type set to ipv6", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.IPAddressType = &v6 }, "spec.ipAddressType"},
		{"vpc set to own", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.VpcID = "vpc-00000001" }, ""},
		{"vpc set to other", func(_, c *elbv2api.TargetGroupBinding) { c.Spec.VpcID = "vpc-00000002" }, "spec.vpcID"},
		{"vpc removed", func(o, _ *elbv2api.TargetGroupBinding) { o.Spec.VpcID = "vpc-00000001" }, "spec.vpcID"},
	} {
		old, cur := base(), base()
		tc.edit(old, cur)
		err := v.checkImmutable(old, cur)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	nodeSel := base()
	nodeSel.Spec.NodeSelector = &metav1.LabelSelector{}
	if err := checkNodeSelector(nodeSel); err == nil {
		t.Error("nodeSelector on an ip binding: no error")
	}
	role := base()
	role.Spec.TargetType = &inst
	role.Spec.IamRoleArnToAssume = "arn:aws:iam::1:role/x"
	if err := checkAssumeRole(role); err == nil {
		t.Error("instance binding with an assumed role: no error")
	}
}

// TestGatesFor computes the readiness gates of a new pod from the ip
// bindings of its namespace whose Service selects it, on a real API server.
func TestGatesFor(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	c := ctrltest.Client(t, cfg)
	ctx := context.Background()
	ip, inst := elbv2api.TargetTypeIP, elbv2api.TargetTypeInstance
	objs := []struct {
		svc      string
		selector map[string]string
		binding  string
		tt       *elbv2api.TargetType
	}{
		{"web", map[string]string{"app": "web"}, "web-ip", &ip},
		{"web-np", map[string]string{"app": "web"}, "web-instance", &inst},
		{"api", map[string]string{"app": "api"}, "api-ip", &ip},
		{"missing", nil, "missing-svc", &ip},
	}
	for _, o := range objs {
		if o.selector != nil {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: o.svc},
				Spec: corev1.ServiceSpec{Selector: o.selector, Ports: []corev1.ServicePort{{Port: 80}}}}
			if err := c.Create(ctx, svc); err != nil {
				t.Fatal(err)
			}
		}
		b := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: o.binding},
			Spec: elbv2api.TargetGroupBindingSpec{TargetGroupARN: "arn:" + o.binding, TargetType: o.tt,
				ServiceRef: elbv2api.ServiceReference{Name: o.svc, Port: intstr.FromInt32(80)}}}
		if err := c.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := GatesFor(ctx, c, "default", map[string]string{"app": "web", "tier": "front"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]corev1.PodConditionType{"target-health.elbv2.k8s.aws/web-ip"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, err = GatesFor(ctx, c, "other", map[string]string{"app": "web"})
	if err != nil || len(got) != 0 {
		t.Errorf("other namespace: %v, %v", got, err)
	}
}

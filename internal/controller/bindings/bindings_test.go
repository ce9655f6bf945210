package bindings

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/stack"
)

func tgStack(id stack.ID, tgs map[string]string) *stack.Stack {
	s := stack.New(id, stack.TagPrefixIngress)
	ip := elbv2api.TargetTypeIP
	for resID, arn := range tgs {
		tg := &stack.TargetGroup{ResID: resID, Status: &stack.TargetGroupStatus{TargetGroupARN: arn}}
		if err := s.Add(tg); err != nil {
			panic(err)
		}
		b := &stack.TargetGroupBinding{ResID: resID, Spec: stack.TargetGroupBindingSpec{Template: stack.TGBTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "k8s-default-" + resID[len(resID)-3:]},
			Spec: stack.TGBSpec{
				TargetGroupARN: tg.ARN(),
				TargetType:     &ip,
				ServiceRef:     elbv2api.ServiceReference{Name: "web", Port: intstr.FromInt32(80)},
				IPAddressType:  elbv2api.TargetGroupIPAddressTypeIPv4,
				VpcID:          "vpc-0123456789abcdef0",
			},
		}}}
		if err := s.Add(b); err != nil {
			panic(err)
		}
	}
	return s
}

func names(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	var list elbv2api.TargetGroupBindingList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range list.Items {
		out[b.Name] = b.Spec.TargetGroupARN
	}
	return out
}

// TestApply creates, updates and deletes a stack's bindings in a real API
// server, leaves other stacks' bindings alone, and writes nothing when
// nothing changed.
func TestApply(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	c := ctrltest.Client(t, cfg)
	ctx := context.Background()
	idA := stack.ID{Namespace: "default", Name: "a"}
	idB := stack.ID{Name: "shared"}

	a := tgStack(idA, map[string]string{"default/a-web:80:one": "arn:tg/one", "default/a-web:80:two": "arn:tg/two"})
	res, err := Apply(ctx, c, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"default/k8s-default-one", "default/k8s-default-two"}, res.Created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	b := tgStack(idB, map[string]string{"default/b-web:80:bbb": "arn:tg/b"})
	if _, err := Apply(ctx, c, b); err != nil {
		t.Fatal(err)
	}
	got := &elbv2api.TargetGroupBinding{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "k8s-default-one"}, got); err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"ingress.k8s.aws/stack-namespace": "default", "ingress.k8s.aws/stack-name": "a"}
	if diff := cmp.Diff(wantLabels, got.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got := b.StackLabels(); !cmp.Equal(got, map[string]string{"ingress.k8s.aws/stack": "shared"}) {
		t.Errorf("explicit group labels: %v", got)
	}

	// Nothing changed: no write.
	res, err = Apply(ctx, c, a)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("second apply changed %+v", res)
	}
	// Webhook-defaulted fields the stack leaves empty count as equal.
	proto := elbv2api.TargetGroupProtocolHTTP
	got.Spec.TargetGroupProtocol = &proto
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if res, err = Apply(ctx, c, a); err != nil || res.Changed() {
		t.Errorf("apply after defaulting: %+v, %v", res, err)
	}

	// Drop one, change the other's service port: delete and update.
	a2 := tgStack(idA, map[string]string{"default/a-web:80:one": "arn:tg/one"})
	a2.TargetGroupBindings["default/a-web:80:one"].Spec.Template.Spec.ServiceRef.Port = intstr.FromString("http")
	res, err = Apply(ctx, c, a2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Updated: []string{"default/k8s-default-one"}, Deleted: []string{"default/k8s-default-two"}}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	want := map[string]string{"k8s-default-one": "arn:tg/one", "k8s-default-bbb": "arn:tg/b"}
	if diff := cmp.Diff(want, names(t, c)); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "k8s-default-one"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.ServiceRef.Port != intstr.FromString("http") || got.Spec.TargetGroupProtocol == nil {
		t.Errorf("updated spec: %+v", got.Spec)
	}

	// An empty stack deletes its bindings only.
	if _, err := Apply(ctx, c, stack.New(idA, stack.TagPrefixIngress)); err != nil {
		t.Fatal(err)
	}
	left, err := Remaining(ctx, c, a)
	if err != nil || len(left) != 0 {
		t.Errorf("remaining of a: %v, %v", left, err)
	}
	if diff := cmp.Diff(map[string]string{"k8s-default-bbb": "arn:tg/b"}, names(t, c)); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}

	// A token that is not deployed is an error, not a binding without ARN.
	undeployed := tgStack(idA, map[string]string{"default/a-web:80:one": "arn:tg/one"})
	undeployed.TargetGroups["default/a-web:80:one"].Status = nil
	if _, err := Apply(ctx, c, undeployed); err == nil {
		t.Error("apply of an undeployed stack: no error")
	}
}

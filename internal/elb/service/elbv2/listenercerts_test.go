package elbv2_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestDefaultCertificateInTheList: the default certificate and the
// certificate list are apart, as on AWS. AddListenerCertificates with the
// default certificate's ARN puts it in the list, and
// DescribeListenerCertificates then shows it twice (IsDefault true, and
// false for the list entry). The AWS Load Balancer Controller relies on
// this: it adds every certificate of a listener, the default included, to
// the list, and compares the non-default entries with them on every
// reconcile. RemoveListenerCertificates of that ARN takes the list entry
// only; a new default leaves the list alone.
func TestDefaultCertificateInTheList(t *testing.T) {
	e := start(t)
	lb := e.alb(t, "web")
	a, b, c := e.cert(t, "a.example.com"), e.cert(t, "b.example.com"), e.cert(t, "c.example.com")
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttps, 443, fixed("200"), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(a)}}
	})
	add := func(arn string) {
		t.Helper()
		if _, err := e.elb.AddListenerCertificates(ctx, &sdk.AddListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(arn)}}}); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(arn string) error {
		_, err := e.elb.RemoveListenerCertificates(ctx, &sdk.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(arn)}}})
		return err
	}
	list := func() string {
		t.Helper()
		var out []string
		p := sdk.NewDescribeListenerCertificatesPaginator(e.elb, &sdk.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn})
		for p.HasMorePages() {
			for _, c := range must[*sdk.DescribeListenerCertificatesOutput](t)(p.NextPage(ctx)).Certificates {
				out = append(out, fmt.Sprintf("%s=%v", *c.CertificateArn, *c.IsDefault))
			}
		}
		return strings.Join(out, " ")
	}
	// The reference's certificates [a, b] on a new listener: default a,
	// then both added to the list.
	add(a)
	add(b)
	if got, want := list(), fmt.Sprintf("%s=true %s=false %s=false", a, a, b); got != want {
		t.Fatalf("certificates %s, want %s", got, want)
	}
	// Adding again changes nothing.
	add(a)
	if got, want := list(), fmt.Sprintf("%s=true %s=false %s=false", a, a, b); got != want {
		t.Fatalf("after adding a again: %s, want %s", got, want)
	}
	// DescribeListeners shows the default certificate only.
	ls := must[*sdk.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{ListenerArns: []string{*l.ListenerArn}}))
	if certs := ls.Listeners[0].Certificates; len(certs) != 1 || *certs[0].CertificateArn != a {
		t.Fatalf("listener certificates %+v", certs)
	}
	// A new default (the reference's [b, c]): ModifyListener, then the list
	// loses a and gains c.
	must[*sdk.ModifyListenerOutput](t)(e.elb.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(b)}}}))
	if got, want := list(), fmt.Sprintf("%s=true %s=false %s=false", b, a, b); got != want {
		t.Fatalf("after a new default: %s, want %s", got, want)
	}
	if err := remove(a); err != nil {
		t.Fatal(err)
	}
	add(c)
	if got, want := list(), fmt.Sprintf("%s=true %s=false %s=false", b, b, c); got != want {
		t.Fatalf("certificates %s, want %s", got, want)
	}
	// Removing the default certificate's ARN takes its list entry; the
	// default itself cannot be removed.
	if err := remove(b); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), fmt.Sprintf("%s=true %s=false", b, c); got != want {
		t.Fatalf("after removing b from the list: %s, want %s", got, want)
	}
	apiErr(t, remove(b), "OperationNotPermitted")
}

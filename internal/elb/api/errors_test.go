package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// apiErr checks that err is an AWS API error with the code, HTTP status and
// a message containing msg, as the SDK parsed it.
func apiErr(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if ae.ErrorCode() != code {
		t.Errorf("ErrorCode() = %q, want %q (error: %v)", ae.ErrorCode(), code, err)
	}
	if !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("ErrorMessage() = %q, want it to contain %q", ae.ErrorMessage(), msg)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
	if !uuidShape.MatchString(re.ServiceRequestID()) {
		t.Errorf("request ID %q does not have the UUID shape", re.ServiceRequestID())
	}
}

// counter returns the value of elbow_elb_api_requests_total for the labels.
func counter(t *testing.T, reg *prometheus.Registry, service, action, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "elbow_elb_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["service"] == service && l["action"] == action && l["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestErrorsReachTheSDK(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	elb := elbv2.NewFromConfig(e.awsCfg())
	ec := ec2.NewFromConfig(e.awsCfg())
	cm := acm.NewFromConfig(e.awsCfg())

	t.Run("awsQuery modelled error", func(t *testing.T) {
		e.rec.setErr("DeleteLoadBalancer", awserr.New("LoadBalancerNotFound", "Load balancer '%s' not found", lbARN))
		_, err := elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: ptr(lbARN)})
		apiErr(t, err, "LoadBalancerNotFound", 400, "Load balancer '"+lbARN+"' not found")
		var nf *elbtypes.LoadBalancerNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("the SDK did not map the code to its modelled error type: %T", err)
		}
		if got := counter(t, e.reg, "elasticloadbalancing", "DeleteLoadBalancer", "LoadBalancerNotFound"); got < 1 {
			t.Errorf("requests_total{code=LoadBalancerNotFound} = %v, want the call counted", got)
		}
		logs := e.logs.String()
		for _, want := range []string{`"msg":"aws api write"`, `"action":"DeleteLoadBalancer"`, `"code":"LoadBalancerNotFound"`, `"resource":"` + lbARN + `"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("the write log line lacks %s:\n%s", want, logs)
			}
		}
	})

	t.Run("awsQuery error with a status", func(t *testing.T) {
		e.rec.setErr("AddTags", awserr.WithStatus(409, "TooManyTags", "too many"))
		_, err := elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{lbARN}, Tags: []elbtypes.Tag{{Key: ptr("k")}}})
		apiErr(t, err, "TooManyTags", 409, "too many")
	})

	t.Run("other errors are InternalFailure without their detail", func(t *testing.T) {
		e.rec.setErr("RegisterTargets", errors.New("bolt: database exploded at /secret/path"))
		_, err := elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: ptr(tgARN), Targets: []elbtypes.TargetDescription{{Id: ptr("i-1")}}})
		apiErr(t, err, "InternalFailure", 500, "unknown error")
		if strings.Contains(err.Error(), "exploded") {
			t.Errorf("the client saw the internal detail: %v", err)
		}
		if !strings.Contains(e.logs.String(), "database exploded") {
			t.Error("the internal detail was not logged")
		}
	})

	t.Run("awserr.Internal is InternalFailure without its detail", func(t *testing.T) {
		e.rec.setErr("ModifyLoadBalancerAttributes", awserr.Internal(errors.New("tx conflict 42")))
		_, err := elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: ptr(lbARN), Attributes: []elbtypes.LoadBalancerAttribute{}})
		apiErr(t, err, "InternalFailure", 500, "unknown error")
		if strings.Contains(err.Error(), "conflict 42") || !strings.Contains(e.logs.String(), "tx conflict 42") {
			t.Errorf("the detail must be logged, not sent: %v", err)
		}
	})

	t.Run("a panic is InternalFailure and its stack is logged", func(t *testing.T) {
		e.rec.setErr("DescribeTargetGroups", errPanic)
		_, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
		apiErr(t, err, "InternalFailure", 500, "unknown error")
		logs := e.logs.String()
		if !strings.Contains(logs, "boom: DescribeTargetGroups") || !strings.Contains(logs, "goroutine") {
			t.Errorf("the panic and its stack were not logged:\n%s", logs)
		}
		// the handler still serves
		e.rec.setErr("DescribeTargetGroups", nil)
		if _, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{}); err != nil {
			t.Fatalf("after a panic: %v", err)
		}
	})

	t.Run("ec2Query error", func(t *testing.T) {
		e.rec.setErr("DeleteSecurityGroup", awserr.New("InvalidGroup.NotFound", "The security group 'sg-9' does not exist"))
		_, err := ec.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: ptr("sg-9")})
		apiErr(t, err, "InvalidGroup.NotFound", 400, "The security group 'sg-9' does not exist")
	})

	t.Run("ec2Query internal error", func(t *testing.T) {
		e.rec.setErr("CreateTags", errors.New("disk full"))
		_, err := ec.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"sg-1"}, Tags: []ec2types.Tag{{Key: ptr("k")}}})
		apiErr(t, err, "InternalError", 500, "internal error")
	})

	t.Run("JSON modelled error", func(t *testing.T) {
		e.rec.setErr("DeleteCertificate", awserr.New("ResourceInUseException", "Certificate %s is in use by a listener", "arn:c"))
		_, err := cm.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: ptr("arn:c")})
		apiErr(t, err, "ResourceInUseException", 400, "Certificate arn:c is in use by a listener")
		var inUse *acmtypes.ResourceInUseException
		if !errors.As(err, &inUse) {
			t.Errorf("the SDK did not map the code to its modelled error type: %T", err)
		}
	})

	t.Run("JSON internal error", func(t *testing.T) {
		e.rec.setErr("GetCertificate", errors.New("nope"))
		_, err := cm.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: ptr("arn:c")})
		apiErr(t, err, "InternalFailure", 500, "unknown error")
	})

	t.Run("STS error", func(t *testing.T) {
		e.rec.setErr("GetCallerIdentity", awserr.WithStatus(http.StatusForbidden, "AccessDenied", "no"))
		_, err := sts.NewFromConfig(e.awsCfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		apiErr(t, err, "AccessDenied", 403, "no")
	})

	t.Run("read calls are not logged as writes", func(t *testing.T) {
		if _, err := elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.logs.String(), `"action":"DescribeLoadBalancers"`) {
			t.Error("a Describe call was logged")
		}
		if got := counter(t, e.reg, "elasticloadbalancing", "DescribeLoadBalancers", "OK"); got < 1 {
			t.Errorf("requests_total{DescribeLoadBalancers,OK} = %v, want the call counted", got)
		}
	})
}

var _ = aws.String

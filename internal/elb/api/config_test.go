package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/api"
)

type misnamed struct{}

func (misnamed) DescribeLoadBalancers(context.Context, *elbv2.DescribeTargetGroupsInput) (*elbv2.DescribeTargetGroupsOutput, error) {
	return nil, nil
}

type unlistedEC2 struct{}

func (unlistedEC2) DescribeImages(context.Context, *ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
	return nil, nil
}

type unionInput struct{}

func (unionInput) SearchCertificates(context.Context, *acm.SearchCertificatesInput) (*acm.SearchCertificatesOutput, error) {
	return nil, nil
}

type noOps struct{}

func (noOps) Hello() string { return "hi" }

func TestNewHandlerRefuses(t *testing.T) {
	t.Parallel()
	base := func() api.Config {
		return api.Config{Region: testRegion, Credentials: map[string]string{testKey: testSecret}, Services: []api.Service{api.ELBv2(&fakeELB{newRecorder()})}}
	}
	cases := []struct {
		name   string
		mutate func(*api.Config)
		want   string
	}{
		{"no region", func(c *api.Config) { c.Region = "" }, "Region"},
		{"no credentials", func(c *api.Config) { c.Credentials = nil }, "Credentials"},
		{"empty secret", func(c *api.Config) { c.Credentials = map[string]string{"a": ""} }, "empty"},
		{"no services", func(c *api.Config) { c.Services = nil }, "Services"},
		{"operation with another operation's types", func(c *api.Config) { c.Services = []api.Service{api.ELBv2(misnamed{})} }, "DescribeLoadBalancers takes"},
		{"EC2 operation missing from the wire tables", func(c *api.Config) { c.Services = []api.Service{api.EC2(unlistedEC2{})} }, "not in the wire tables"},
		{"union input", func(c *api.Config) { c.Services = []api.Service{api.ACM(unionInput{})} }, "interface"},
		{"no operations", func(c *api.Config) { c.Services = []api.Service{api.ACM(noOps{})} }, "has no method"},
		{"nil impl", func(c *api.Config) { c.Services = []api.Service{api.ACM(nil)} }, "Impl is nil"},
		{"duplicate signing name", func(c *api.Config) {
			c.Services = append(c.Services, api.ELBv2(&fakeELB{newRecorder()}))
		}, "signing name"},
		{"query service without Version", func(c *api.Config) {
			s := api.ELBv2(&fakeELB{newRecorder()})
			s.Version = ""
			c.Services = []api.Service{s}
		}, "Version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			_, err := api.NewHandler(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewHandler error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestOperationsFoundByReflection(t *testing.T) {
	t.Parallel()
	e := start(t)
	want := []string{"AddTags", "CreateLoadBalancer", "CreateRule", "DeleteLoadBalancer", "DescribeListeners", "DescribeLoadBalancers",
		"DescribeRules", "DescribeTags", "DescribeTargetGroups", "DescribeTargetHealth", "ModifyLoadBalancerAttributes", "RegisterTargets", "SetSecurityGroups"}
	if diff := cmp.Diff(want, e.h.Operations("elasticloadbalancing")); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
}

func TestTwoHandlersShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		_, err := api.NewHandler(api.Config{Region: testRegion, Credentials: map[string]string{testKey: testSecret},
			Services: []api.Service{api.ELBv2(&fakeELB{newRecorder()})}, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
	}
}

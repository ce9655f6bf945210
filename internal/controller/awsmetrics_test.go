package controller

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	elbec2 "github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/facts"
)

// TestAWSMetrics counts real calls to the local EC2, by operation and
// error code.
func TestAWSMetrics(t *testing.T) {
	st := svctest.OpenStore(t)
	if err := elbec2.Bootstrap(context.Background(), st, facts.Default(facts.DefaultRegion, "demo")); err != nil {
		t.Fatal(err)
	}
	e := svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st}).API())
	reg := prometheus.NewRegistry()
	m, err := NewAWSMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, m.Middleware())
	c := ec2.NewFromConfig(cfg)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String("sg-00000000000000000")}); err == nil {
		t.Fatal("deleting a missing group: no error")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "elbow_controller_aws_api_calls_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[strings.Join(labels, ",")] = metric.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"code=InvalidGroup.NotFound,operation=DeleteSecurityGroup,service=EC2": 1,
		"code=OK,operation=DescribeVpcs,service=EC2":                           2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if got := m.Counts(); got["EC2/DescribeVpcs"] != 2 || got["EC2/DeleteSecurityGroup"] != 1 {
		t.Errorf("counts %v", got)
	}
	// A second registration on the same registry is accepted (a restarted controller in one process).
	if _, err := NewAWSMetrics(reg); err != nil {
		t.Errorf("second registration: %v", err)
	}
}

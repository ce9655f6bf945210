package wire_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"

	"github.com/elbowlb/elbow/internal/elb/api/wire"
)

// sdkTypes collects every struct type reachable from the clients'
// operations, by type key.
func sdkTypes() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		k := wire.TypeKey(t)
		if _, seen := out[k]; seen {
			return
		}
		out[k] = t
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	for _, c := range []any{&elbv2.Client{}, &ec2.Client{}, &sts.Client{}, &acm.Client{}, &wafv2.Client{}, &shield.Client{}, &resourcegroupstaggingapi.Client{}} {
		ct := reflect.TypeOf(c)
		for i := range ct.NumMethod() {
			mt := ct.Method(i).Type
			for j := 1; j < mt.NumIn(); j++ {
				walk(mt.In(j))
			}
			for j := range mt.NumOut() {
				walk(mt.Out(j))
			}
		}
	}
	return out
}

func TestTablesNameRealFields(t *testing.T) {
	t.Parallel()
	types := sdkTypes()
	keys := wire.QueryKeys()
	if len(keys) < 250 {
		t.Fatalf("the query tables hold %d structures; ELBv2 and EC2 alone need more", len(keys))
	}
	for _, k := range keys {
		rt, ok := types[k]
		if !ok {
			t.Errorf("table key %s is not a type of the SDK clients", k)
			continue
		}
		s := wire.LookupQuery(rt)
		for _, f := range s.Fields {
			if _, ok := rt.FieldByName(f.Go); !ok {
				t.Errorf("%s has no field %s", k, f.Go)
			}
			if f.Query == "" && f.XML == "" {
				t.Errorf("%s.%s has neither a query nor an XML name", k, f.Go)
			}
		}
	}
	for k, fields := range wire.JSONExceptions() {
		rt, ok := types[k]
		if !ok {
			t.Errorf("JSON exception key %s is not a type of the SDK clients", k)
			continue
		}
		for f := range fields {
			if _, ok := rt.FieldByName(f); !ok {
				t.Errorf("%s has no field %s", k, f)
			}
		}
	}
}

// TestKnownNames pins names that differ from the Go field names, read from
// the SDK by the generator; a wrong generator would break them.
func TestKnownNames(t *testing.T) {
	t.Parallel()
	types := sdkTypes()
	field := func(key, goName string) wire.Field {
		t.Helper()
		rt, ok := types[key]
		if !ok {
			t.Fatalf("no type %s", key)
		}
		s := wire.LookupQuery(rt)
		if s == nil {
			t.Fatalf("no table for %s", key)
		}
		for _, f := range s.Fields {
			if f.Go == goName {
				return f
			}
		}
		t.Fatalf("no field %s in the table of %s", goName, key)
		return wire.Field{}
	}
	const ec2p = "github.com/aws/aws-sdk-go-v2/service/ec2"
	const elbp = "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	cases := []struct {
		key, field, query, xml string
		qc, xc                 *wire.Coll
	}{
		{ec2p + ".DescribeSubnetsInput", "Filters", "Filter", "", &wire.Coll{Member: "Filter", Flat: true}, nil},
		{ec2p + ".DescribeSubnetsInput", "SubnetIds", "SubnetId", "", &wire.Coll{Member: "SubnetId", Flat: true}, nil},
		{ec2p + "/types.Filter", "Values", "Value", "", &wire.Coll{Member: "Item", Flat: true}, nil},
		{ec2p + ".DescribeSubnetsOutput", "Subnets", "", "subnetSet", nil, &wire.Coll{Member: "item"}},
		{ec2p + "/types.SecurityGroup", "Description", "", "groupDescription", nil, nil},
		{ec2p + "/types.IpPermission", "UserIdGroupPairs", "Groups", "groups", &wire.Coll{Member: "Item", Flat: true}, &wire.Coll{Member: "item"}},
		{ec2p + ".CreateSecurityGroupInput", "Description", "GroupDescription", "", nil, nil},
		{ec2p + ".DescribeInstancesOutput", "Reservations", "", "reservationSet", nil, &wire.Coll{Member: "item"}},
		{ec2p + "/types.Reservation", "Instances", "", "instancesSet", nil, &wire.Coll{Member: "item"}},
		{elbp + ".CreateLoadBalancerInput", "Subnets", "Subnets", "", &wire.Coll{Member: "member"}, nil},
		{elbp + "/types.AuthenticateOidcActionConfig", "AuthenticationRequestExtraParams", "AuthenticationRequestExtraParams", "AuthenticationRequestExtraParams",
			&wire.Coll{Map: true, Key: "key", Value: "value"}, &wire.Coll{Map: true, Key: "key", Value: "value"}},
	}
	for _, c := range cases {
		f := field(c.key, c.field)
		if f.Query != c.query || f.XML != c.xml || !reflect.DeepEqual(f.QueryColl, c.qc) || !reflect.DeepEqual(f.XMLColl, c.xc) {
			t.Errorf("%s.%s = %+v (query coll %+v, xml coll %+v); want query %q %+v, xml %q %+v", c.key, c.field, f, f.QueryColl, f.XMLColl, c.query, c.qc, c.xml, c.xc)
		}
	}
	acmFilters := types["github.com/aws/aws-sdk-go-v2/service/acm/types.Filters"]
	if got := wire.JSONName(acmFilters, "KeyTypes"); got != "keyTypes" {
		t.Errorf("ACM Filters.KeyTypes travels as %q, want keyTypes", got)
	}
	if got := wire.JSONName(acmFilters, "Other"); got != "Other" {
		t.Errorf("a field without exception travels as %q", got)
	}
}

package awsjson_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	tagtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/google/go-cmp/cmp"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/awsjson"
	"github.com/elbowlb/elbow/internal/elb/api/internal/sdkcapture"
)

func p[T any](v T) *T { return &v }

var cmpOpts = []cmp.Option{cmp.Exporter(func(reflect.Type) bool { return true })}

func TestEncodeNamesTimesBlobs(t *testing.T) {
	t.Parallel()
	out := &acm.DescribeCertificateOutput{Certificate: &acmtypes.CertificateDetail{
		CertificateArn: p("arn"), CreatedAt: p(time.Unix(1700000000, 250_000_000)), InUseBy: []string{},
	}}
	b, err := awsjson.Encode(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Certificate":{"CertificateArn":"arn","CreatedAt":1700000000.25,"InUseBy":[]}}`; string(b) != want {
		t.Errorf("Encode = %s, want %s", b, want)
	}
	in := &acm.ListCertificatesInput{}
	if err := awsjson.Decode([]byte(`{"Includes":{"keyTypes":["RSA_2048"],"KeyTypes":["ignored"]},"MaxItems":3}`), in); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{"RSA_2048"}}, MaxItems: p(int32(3))}, in, cmpOpts...); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	imp := &acm.ImportCertificateInput{}
	if err := awsjson.Decode([]byte(`{"Certificate":"AAEC/w==","PrivateKey":""}`), imp); err != nil {
		t.Fatal(err)
	}
	if string(imp.Certificate) != "\x00\x01\x02\xff" || imp.PrivateKey == nil {
		t.Errorf("blobs decoded as %q %v", imp.Certificate, imp.PrivateKey)
	}
	if e := string(awsjson.EncodeError(awserr.New("ResourceNotFoundException", `no "x"`))); e != `{"__type":"ResourceNotFoundException","message":"no \"x\""}` {
		t.Errorf("EncodeError = %s", e)
	}
	type floats struct{ A, B, C float64 }
	if b, _ := awsjson.Encode(&floats{math.NaN(), math.Inf(1), 1.5}); string(b) != `{"A":"NaN","B":"Infinity","C":1.5}` {
		t.Errorf("floats: %s", b)
	}
}

var fuzzTargets = []reflect.Type{
	reflect.TypeFor[acm.ImportCertificateInput](), reflect.TypeFor[acm.ListCertificatesInput](),
	reflect.TypeFor[acm.RequestCertificateInput](), reflect.TypeFor[resourcegroupstaggingapi.GetResourcesInput](),
	reflect.TypeFor[wafv2.AssociateWebACLInput](),
}

func FuzzDecode(f *testing.F) {
	rec := &sdkcapture.Recorder{}
	ctx := context.Background()
	_, _ = acm.NewFromConfig(rec.Config()).ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: []byte("cert"), PrivateKey: []byte{0, 255}, Tags: []acmtypes.Tag{{Key: p("k"), Value: p("v")}}})
	_, _ = acm.NewFromConfig(rec.Config()).ListCertificates(ctx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmRsa2048}}, CertificateStatuses: []acmtypes.CertificateStatus{"ISSUED"}})
	_, _ = acm.NewFromConfig(rec.Config()).RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: p("example.com"), SubjectAlternativeNames: []string{"*.example.com"}})
	_, _ = resourcegroupstaggingapi.NewFromConfig(rec.Config()).GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{TagFilters: []tagtypes.TagFilter{{Key: p("a"), Values: []string{"b"}}}})
	_, _ = wafv2.NewFromConfig(rec.Config()).AssociateWebACL(ctx, &wafv2.AssociateWebACLInput{ResourceArn: p("r"), WebACLArn: p("w")})
	reqs := rec.Requests()
	if len(reqs) != 5 {
		f.Fatalf("captured %d requests, want 5", len(reqs))
	}
	for _, r := range reqs {
		f.Add(r.Body)
	}
	f.Add([]byte(`{"MaxItems":1e400,"Includes":{"keyTypes":[null,1]}}`))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range fuzzTargets {
			in := reflect.New(typ).Interface()
			err := awsjson.Decode(body, in)
			if err != nil {
				var ae *awserr.Error
				if !errors.As(err, &ae) || ae.Code != "SerializationException" {
					t.Fatalf("Decode into %s: %v", typ, err)
				}
				continue
			}
			// what was decoded encodes, and decodes back to the same
			enc, err := awsjson.Encode(in)
			if err != nil {
				t.Fatalf("Encode %s: %v", typ, err)
			}
			again := reflect.New(typ).Interface()
			if err := awsjson.Decode(enc, again); err != nil {
				t.Fatalf("Decode(Encode(x)) %s: %v\n%s", typ, err, enc)
			}
			if diff := cmp.Diff(in, again, cmpOpts...); diff != "" {
				t.Fatalf("round trip of %s changed it (-first +second):\n%s", typ, diff)
			}
		}
	})
}

package v1beta1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gatewayv1 "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// decoded is a gateway.k8s.aws object read from a file.
type decoded struct {
	// typed is the object strictly decoded into this package's type.
	typed client.Object
	// spec is typed's spec.
	spec any
}

// specOf returns the spec of one of the group's objects, of either version.
func specOf(o client.Object) any {
	switch o := o.(type) {
	case *v1beta1.LoadBalancerConfiguration:
		return o.Spec
	case *v1beta1.TargetGroupConfiguration:
		return o.Spec
	case *v1beta1.ListenerRuleConfiguration:
		return o.Spec
	case *gatewayv1.LoadBalancerConfiguration:
		return o.Spec
	case *gatewayv1.TargetGroupConfiguration:
		return o.Spec
	case *gatewayv1.ListenerRuleConfiguration:
		return o.Spec
	}
	return nil
}

// newObjects returns empty objects of a kind: in v1beta1, then in v1.
func newObjects(kind string) []client.Object {
	switch kind {
	case "LoadBalancerConfiguration":
		return []client.Object{&v1beta1.LoadBalancerConfiguration{}, &gatewayv1.LoadBalancerConfiguration{}}
	case "TargetGroupConfiguration":
		return []client.Object{&v1beta1.TargetGroupConfiguration{}, &gatewayv1.TargetGroupConfiguration{}}
	case "ListenerRuleConfiguration":
		return []client.Object{&v1beta1.ListenerRuleConfiguration{}, &gatewayv1.ListenerRuleConfiguration{}}
	}
	return nil
}

// readObjects strictly decodes every gateway.k8s.aws/v1beta1 document of a
// multi-document YAML file into this package's types, skipping the
// documents of other groups.
func readObjects(t *testing.T, file string) []decoded {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []decoded
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if tm.APIVersion == "" {
			continue // a comment-only document
		}
		if tm.APIVersion != v1beta1.GroupVersion.String() {
			if strings.HasPrefix(tm.APIVersion, v1beta1.GroupVersion.Group+"/") {
				t.Fatalf("%s: %s %s: only %s is read here", file, tm.APIVersion, tm.Kind, v1beta1.GroupVersion)
			}
			continue
		}
		var d decoded
		switch tm.Kind {
		case "LoadBalancerConfiguration":
			var o v1beta1.LoadBalancerConfiguration
			err = yaml.UnmarshalStrict(doc, &o)
			d = decoded{&o, o.Spec}
		case "TargetGroupConfiguration":
			var o v1beta1.TargetGroupConfiguration
			err = yaml.UnmarshalStrict(doc, &o)
			d = decoded{&o, o.Spec}
		case "ListenerRuleConfiguration":
			var o v1beta1.ListenerRuleConfiguration
			err = yaml.UnmarshalStrict(doc, &o)
			d = decoded{&o, o.Spec}
		default:
			t.Fatalf("%s: unknown kind %s of %s", file, tm.Kind, tm.APIVersion)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", file, tm.Kind, err)
		}
		out = append(out, d)
	}
	return out
}

func examplePath(name string) string {
	return filepath.Join("..", "..", "..", "examples", name)
}

func TestAddToSchemeRegistersKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1beta1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := gatewayv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, gv := range []string{v1beta1.GroupVersion.String(), gatewayv1.GroupVersion.String()} {
		for _, kind := range []string{
			"LoadBalancerConfiguration", "LoadBalancerConfigurationList",
			"TargetGroupConfiguration", "TargetGroupConfigurationList",
			"ListenerRuleConfiguration", "ListenerRuleConfigurationList",
		} {
			gvk := v1beta1.GroupVersion.WithKind(kind)
			gvk.Version = strings.TrimPrefix(gv, "gateway.k8s.aws/")
			if !s.Recognizes(gvk) {
				t.Errorf("scheme does not recognise %s", gvk)
			}
		}
	}
}

// TestExamplesDecodeStrictly reads the gateway.k8s.aws objects of the
// examples into the types, refusing any field they lack.
func TestExamplesDecodeStrictly(t *testing.T) {
	alb := readObjects(t, examplePath("gateway-alb.yaml"))
	nlb := readObjects(t, examplePath("gateway-nlb.yaml"))
	if len(alb) != 2 || len(nlb) != 2 {
		t.Fatalf("got %d objects from gateway-alb.yaml and %d from gateway-nlb.yaml, want 2 each", len(alb), len(nlb))
	}
	albLB := alb[0].typed.(*v1beta1.LoadBalancerConfiguration)
	if *albLB.Spec.Scheme != v1beta1.LoadBalancerSchemeInternetFacing ||
		albLB.Spec.LoadBalancerAttributes[0].Value != "60" ||
		(*albLB.Spec.ListenerConfigurations)[0].ProtocolPort != "HTTPS:443" ||
		*(*albLB.Spec.ListenerConfigurations)[0].SslPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Errorf("gateway-alb.yaml LoadBalancerConfiguration decoded as %+v", albLB.Spec)
	}
	albTG := alb[1].typed.(*v1beta1.TargetGroupConfiguration)
	if albTG.Spec.TargetReference.Name != "app-service" || *albTG.Spec.DefaultConfiguration.TargetType != v1beta1.TargetTypeIP ||
		*albTG.Spec.DefaultConfiguration.Protocol != v1beta1.ProtocolHTTP ||
		*albTG.Spec.DefaultConfiguration.HealthCheckConfig.HealthCheckPath != "/health" ||
		*albTG.Spec.DefaultConfiguration.HealthCheckConfig.HealthCheckInterval != 15 {
		t.Errorf("gateway-alb.yaml TargetGroupConfiguration decoded as %+v", albTG.Spec)
	}
	nlbLB := nlb[0].typed.(*v1beta1.LoadBalancerConfiguration)
	if *nlbLB.Spec.Scheme != v1beta1.LoadBalancerSchemeInternal || !*nlbLB.Spec.EnableICMP {
		t.Errorf("gateway-nlb.yaml LoadBalancerConfiguration decoded as %+v", nlbLB.Spec)
	}
	nlbTG := nlb[1].typed.(*v1beta1.TargetGroupConfiguration)
	if hc := nlbTG.Spec.DefaultConfiguration.HealthCheckConfig; *hc.HealthCheckProtocol != v1beta1.TargetGroupHealthCheckProtocolTCP ||
		*hc.HealthyThresholdCount != 3 || *hc.HealthCheckInterval != 10 {
		t.Errorf("gateway-nlb.yaml TargetGroupConfiguration decoded as %+v", nlbTG.Spec)
	}
}

// TestStrictDecodingRefusesUnknownFields checks that the decoding the
// examples go through would notice a field the types lack.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		into any
		doc  string
	}{
		{"misspelled spec field", &v1beta1.LoadBalancerConfiguration{}, "spec: {schema: internal}"},
		{"field of another kind", &v1beta1.TargetGroupConfiguration{}, "spec: {defaultConfiguration: {sslPolicy: x}}"},
		{"nested unknown field", &v1beta1.ListenerRuleConfiguration{}, "spec: {actions: [{type: forward, forwardConfig: {targetGroups: []}}]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := yaml.UnmarshalStrict([]byte(tc.doc), tc.into); err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Fatalf("UnmarshalStrict(%q) = %v, want an unknown field error", tc.doc, err)
			}
		})
	}
}

// TestFullObjectsSetEveryField checks that testdata/full.yaml sets every
// field of every spec type at least once, so that the round trip through
// the API server covers the whole schema.
func TestFullObjectsSetEveryField(t *testing.T) {
	all := map[string]bool{}
	set := map[string]bool{}
	for _, d := range readObjects(t, filepath.Join("testdata", "full.yaml")) {
		v := reflect.ValueOf(d.spec)
		fieldsOf(v.Type(), all)
		fieldsSet(v, set)
	}
	var missing []string
	for f := range all {
		if !set[f] {
			missing = append(missing, f)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("testdata/full.yaml sets none of %v", missing)
	}
	if len(all) < 100 {
		t.Fatalf("only %d fields found: the walk is broken", len(all))
	}
}

// ownStruct reports whether t is a struct of this package (whose fields
// the coverage check descends into).
func ownStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.PkgPath() == reflect.TypeFor[v1beta1.TargetGroupProps]().PkgPath()
}

// fieldsOf adds "Type.Field" for every field of t and of the structs of
// this package it holds.
func fieldsOf(t reflect.Type, out map[string]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		fieldsOf(t.Elem(), out)
		return
	}
	if !ownStruct(t) {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		key := t.Name() + "." + f.Name
		if out[key] {
			continue
		}
		out[key] = true
		fieldsOf(f.Type, out)
	}
}

// fieldsSet adds "Type.Field" for every non-zero field found in v.
func fieldsSet(v reflect.Value, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fieldsSet(v.Elem(), out)
		}
		return
	case reflect.Slice:
		for i := range v.Len() {
			fieldsSet(v.Index(i), out)
		}
		return
	}
	if !ownStruct(v.Type()) {
		return
	}
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsZero() {
			out[v.Type().Name()+"."+v.Type().Field(i).Name] = true
			fieldsSet(f, out)
		}
	}
}

// warnings records the warnings the API server sends.
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings recorded since the last call.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// TestOnAPIServer installs the CRDs in a real kube-apiserver and checks
// that the examples and the full objects are stored and read back as
// written (plus the reference controller's defaults), that both versions
// serve the same objects, and that what the reference controller's
// validation refuses is refused.
func TestOnAPIServer(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	warned := &warnings{}
	cfg.WarningHandlerWithContext = warned
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1beta1.AddToScheme, gatewayv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "app-ns"},
	}}); err != nil {
		t.Fatal(err)
	}

	t.Run("examples", func(t *testing.T) {
		for _, file := range []string{"gateway-alb.yaml", "gateway-nlb.yaml"} {
			for _, d := range readObjects(t, examplePath(file)) {
				roundTrip(t, c, warned, d, withReferenceDefaults)
			}
		}
	})

	t.Run("full objects", func(t *testing.T) {
		for _, d := range readObjects(t, filepath.Join("testdata", "full.yaml")) {
			roundTrip(t, c, warned, d, nil)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		var in v1beta1.ListenerRuleConfiguration
		mustDecode(t, `
apiVersion: gateway.k8s.aws/v1beta1
kind: ListenerRuleConfiguration
metadata: {name: defaults, namespace: default}
spec:
  actions:
  - type: authenticate-oidc
    authenticateOIDCConfig:
      authorizationEndpoint: https://idp.example.com/authorize
      secret: {name: oidc-client}
      issuer: https://idp.example.com
      tokenEndpoint: https://idp.example.com/token
      userInfoEndpoint: https://idp.example.com/userinfo
  - type: forward
    forwardConfig: {}
`, &in)
		if err := c.Create(ctx, &in); err != nil {
			t.Fatal(err)
		}
		var got v1beta1.ListenerRuleConfiguration
		if err := c.Get(ctx, client.ObjectKeyFromObject(&in), &got); err != nil {
			t.Fatal(err)
		}
		oidc := got.Spec.Actions[0].AuthenticateOIDCConfig
		if *oidc.Scope != "openid" || *oidc.OnUnauthenticatedRequest != v1beta1.AuthenticateOidcActionConditionalBehaviorEnumAuthenticate ||
			*oidc.SessionCookieName != "AWSELBAuthSessionCookie" || *oidc.SessionTimeout != 604800 {
			t.Errorf("authenticate-oidc defaults: %+v", oidc)
		}
		sticky := got.Spec.Actions[1].ForwardConfig.TargetGroupStickinessConfig
		if sticky == nil || *sticky.DurationSeconds != 3600 || *sticky.Enabled {
			t.Errorf("forward defaults: %+v", sticky)
		}

		var fixed v1beta1.ListenerRuleConfiguration
		mustDecode(t, `
apiVersion: gateway.k8s.aws/v1beta1
kind: ListenerRuleConfiguration
metadata: {name: defaults-fixed, namespace: default}
spec:
  actions:
  - type: authenticate-cognito
    authenticateCognitoConfig: {userPoolArn: arn:aws:cognito-idp:us-east-1:000000000000:userpool/p, userPoolClientId: c, userPoolDomain: d}
  - type: fixed-response
    fixedResponseConfig: {statusCode: 503}
`, &fixed)
		if err := c.Create(ctx, &fixed); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(&fixed), &got); err != nil {
			t.Fatal(err)
		}
		cognito := got.Spec.Actions[0].AuthenticateCognitoConfig
		if *cognito.Scope != "openid" || *cognito.OnUnauthenticatedRequest != v1beta1.AuthenticateCognitoActionConditionalBehaviorEnumAuthenticate ||
			*cognito.SessionCookieName != "AWSELBAuthSessionCookie" || *cognito.SessionTimeout != 604800 {
			t.Errorf("authenticate-cognito defaults: %+v", cognito)
		}
		if ct := got.Spec.Actions[1].FixedResponseConfig.ContentType; ct == nil || *ct != "text/plain" {
			t.Errorf("fixed-response content type defaulted to %v, want text/plain", ct)
		}

		var redirect v1beta1.ListenerRuleConfiguration
		mustDecode(t, `
apiVersion: gateway.k8s.aws/v1beta1
kind: ListenerRuleConfiguration
metadata: {name: defaults-redirect, namespace: default}
spec:
  actions: [{type: redirect, redirectConfig: {}}]
`, &redirect)
		if err := c.Create(ctx, &redirect); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(&redirect), &got); err != nil {
			t.Fatal(err)
		}
		if q := got.Spec.Actions[0].RedirectConfig.Query; q == nil || *q != "#{query}" {
			t.Errorf("redirect query defaulted to %v, want #{query}", q)
		}
	})

	t.Run("status subresource", func(t *testing.T) {
		o := &v1beta1.LoadBalancerConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: "default"}}
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		o.Status = v1beta1.LoadBalancerConfigurationStatus{
			ObservedGatewayConfigurationGeneration: ptr.To[int64](1), ObservedGatewayClassConfigurationGeneration: ptr.To[int64](2),
		}
		if err := c.Status().Update(ctx, o); err != nil {
			t.Fatal(err)
		}
		r := &v1beta1.ListenerRuleConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: "default"}}
		if err := c.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status = v1beta1.ListenerRuleConfigurationStatus{ObservedGeneration: ptr.To[int64](1), Accepted: ptr.To(false), Message: ptr.To("no")}
		if err := c.Status().Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		tg := &v1beta1.TargetGroupConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: "default"}}
		if err := c.Create(ctx, tg); err != nil {
			t.Fatal(err)
		}
		tg.Status = v1beta1.TargetGroupConfigurationStatus{
			ObservedGatewayConfigurationGeneration: ptr.To[int64](3), ObservedGatewayClassConfigurationGeneration: ptr.To[int64](4),
		}
		if err := c.Status().Update(ctx, tg); err != nil {
			t.Fatal(err)
		}
		var gotLB v1beta1.LoadBalancerConfiguration
		var gotLR v1beta1.ListenerRuleConfiguration
		var gotTG v1beta1.TargetGroupConfiguration
		for _, g := range []struct {
			obj  client.Object
			into client.Object
			want any
			got  func() any
		}{
			{o, &gotLB, o.Status, func() any { return gotLB.Status }},
			{r, &gotLR, r.Status, func() any { return gotLR.Status }},
			{tg, &gotTG, tg.Status, func() any { return gotTG.Status }},
		} {
			if err := c.Get(ctx, client.ObjectKeyFromObject(g.obj), g.into); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(g.want, g.got()); d != "" {
				t.Errorf("%T status read back (-want +got):\n%s", g.obj, d)
			}
		}
		// A status written through the main resource is ignored.
		gotLB.Status.ObservedGatewayConfigurationGeneration = ptr.To[int64](9)
		if err := c.Update(ctx, &gotLB); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), &gotLB); err != nil {
			t.Fatal(err)
		}
		if *gotLB.Status.ObservedGatewayConfigurationGeneration != 1 {
			t.Errorf("status changed through the main resource: %+v", gotLB.Status)
		}
	})

	t.Run("CRDs", func(t *testing.T) {
		for _, tc := range []struct {
			plural  string
			columns []string
		}{
			{"loadbalancerconfigurations", []string{"AGE"}},
			{"targetgroupconfigurations", []string{"SERVICE-NAME", "AGE"}},
			{"listenerruleconfigurations", []string{"AGE"}},
		} {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: tc.plural + ".gateway.k8s.aws"}, &crd); err != nil {
				t.Fatal(err)
			}
			if crd.Spec.Scope != apiextensionsv1.NamespaceScoped || len(crd.Spec.Names.ShortNames) != 0 {
				t.Errorf("%s: scope %s, short names %v; want Namespaced and none", tc.plural, crd.Spec.Scope, crd.Spec.Names.ShortNames)
			}
			if !slices.Equal(crd.Status.StoredVersions, []string{"v1"}) {
				t.Errorf("%s: stored versions %v, want [v1]", tc.plural, crd.Status.StoredVersions)
			}
			for _, v := range crd.Spec.Versions {
				var cols []string
				for _, col := range v.AdditionalPrinterColumns {
					cols = append(cols, col.Name)
				}
				if !slices.Equal(cols, tc.columns) || !v.Served || v.Subresources == nil || v.Subresources.Status == nil ||
					v.Storage != (v.Name == "v1") || v.Deprecated != (v.Name == "v1beta1") {
					t.Errorf("%s %s: columns %v served %v storage %v deprecated %v subresources %+v", tc.plural, v.Name, cols, v.Served, v.Storage, v.Deprecated, v.Subresources)
				}
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			doc  string
			want string // in the error's message
		}{
			{"scheme out of the enum", lbcDoc(`scheme: public`), `Unsupported value: "public"`},
			{"merging mode out of the enum", lbcDoc(`mergingMode: prefer-neither`), `Unsupported value: "prefer-neither"`},
			{"ip address type out of the enum", lbcDoc(`ipAddressType: ipv6`), `Unsupported value: "ipv6"`},
			{"load balancer name too long", lbcDoc(`loadBalancerName: ` + strings.Repeat("a", 33)), `spec.loadBalancerName: Too long`},
			{"load balancer name empty", lbcDoc(`loadBalancerName: ""`), `spec.loadBalancerName: Invalid value`},
			{"listener port out of range", lbcDoc(`listenerConfigurations: [{protocolPort: "HTTP:65536"}]`), `spec.listenerConfigurations[0].protocolPort: Invalid value`},
			{"listener protocol unknown", lbcDoc(`listenerConfigurations: [{protocolPort: "QUIC:443"}]`), `spec.listenerConfigurations[0].protocolPort: Invalid value`},
			{"listener without protocolPort", lbcDoc(`listenerConfigurations: [{sslPolicy: p}]`), `spec.listenerConfigurations[0].protocolPort: Required value`},
			{"alpn policy out of the enum", lbcDoc(`listenerConfigurations: [{protocolPort: "TLS:443", alpnPolicy: h2}]`), `Unsupported value: "h2"`},
			{"verify without trust store", lbcDoc(`listenerConfigurations: [{protocolPort: "HTTPS:443", mutualAuthentication: {mode: verify}}]`), `trustStore is required when mutualAuthentication mode is 'verify'`},
			{"passthrough with trust store", lbcDoc(`listenerConfigurations: [{protocolPort: "HTTPS:443", mutualAuthentication: {mode: passthrough, trustStore: ts}}]`), `does not support 'trustStore'`},
			{"off with expiry option", lbcDoc(`listenerConfigurations: [{protocolPort: "HTTPS:443", mutualAuthentication: {mode: "off", ignoreClientCertificateExpiry: true}}]`), `does not support 'ignoreClientCertificateExpiry'`},
			{"wafV2 without web ACL", lbcDoc(`wafV2: {}`), `spec.wafV2.webACL: Required value`},
			{"capacity without units", lbcDoc(`minimumLoadBalancerCapacity: {}`), `spec.minimumLoadBalancerCapacity.capacityUnits: Required value`},
			{"target type out of the enum", tgcDoc(`defaultConfiguration: {targetType: pod}`), `Unsupported value: "pod"`},
			{"QUIC target group protocol", tgcDoc(`defaultConfiguration: {protocol: QUIC}`), `Unsupported value: "QUIC"`},
			{"health check protocol out of the enum", tgcDoc(`defaultConfiguration: {healthCheckConfig: {healthCheckProtocol: UDP}}`), `Unsupported value: "UDP"`},
			{"protocol version out of the enum", tgcDoc(`routeConfigurations: [{routeIdentifier: {kind: HTTPRoute}, targetGroupProps: {protocolVersion: HTTP3}}]`), `Unsupported value: "HTTP3"`},
			{"target reference without name", tgcDoc(`targetReference: {kind: Service}`), `spec.targetReference.name: Required value`},
			{"route configuration without props", tgcDoc(`routeConfigurations: [{routeIdentifier: {kind: HTTPRoute}}]`), `spec.routeConfigurations[0].targetGroupProps: Required value`},
			{"action type out of the enum", lrcDoc(`actions: [{type: drop}]`), `Unsupported value: "drop"`},
			{"forward without its config", lrcDoc(`actions: [{type: forward}]`), `forwardConfig must be specified only when type is 'forward'`},
			{"config of another type", lrcDoc(`actions: [{type: redirect, redirectConfig: {}, fixedResponseConfig: {statusCode: 200}}]`), `fixedResponseConfig must be specified only when type is 'fixed-response'`},
			{"two routing actions", lrcDoc(`actions: [{type: redirect, redirectConfig: {}}, {type: fixed-response, fixedResponseConfig: {statusCode: 404}}]`), `At most one routing action`},
			{"two authentication actions", lrcDoc(`actions: [{type: jwt-validation, jwtValidationConfig: {issuer: i, jwksEndpoint: j}}, {type: authenticate-cognito, authenticateCognitoConfig: {userPoolArn: a, userPoolClientId: c, userPoolDomain: d}}]`), `At most one pre-routing action`},
			{"three actions", lrcDoc(`actions: [{type: redirect, redirectConfig: {}}, {type: redirect, redirectConfig: {}}, {type: redirect, redirectConfig: {}}]`), `spec.actions: Too many`},
			{"empty actions", lrcDoc(`actions: []`), `spec.actions`},
			{"fixed response 302", lrcDoc(`actions: [{type: fixed-response, fixedResponseConfig: {statusCode: 302}}]`), `StatusCode must be a valid HTTP status code in the 2XX, 4XX, or 5XX range`},
			{"content type out of the enum", lrcDoc(`actions: [{type: fixed-response, fixedResponseConfig: {statusCode: 200, contentType: text/xml}}]`), `Unsupported value: "text/xml"`},
			{"stickiness over seven days", lrcDoc(`actions: [{type: forward, forwardConfig: {targetGroupStickinessConfig: {durationSeconds: 604801}}}]`), `should be less than or equal to 604800`},
			{"session timeout zero", lrcDoc(`actions: [{type: authenticate-cognito, authenticateCognitoConfig: {userPoolArn: a, userPoolClientId: c, userPoolDomain: d, sessionTimeout: 0}}]`), `should be greater than or equal to 1`},
			{"oidc without secret", lrcDoc(`actions: [{type: authenticate-oidc, authenticateOIDCConfig: {authorizationEndpoint: a, issuer: i, tokenEndpoint: t, userInfoEndpoint: u}}]`), `authenticateOIDCConfig.secret: Required value`},
			{"eleven extra params", lrcDoc(`actions: [{type: authenticate-cognito, authenticateCognitoConfig: {userPoolArn: a, userPoolClientId: c, userPoolDomain: d, authenticationRequestExtraParams: {a: "1", b: "2", c: "3", d: "4", e: "5", f: "6", g: "7", h: "8", i: "9", j: "10", k: "11"}}}]`), `Too many`},
			{"jwt issuer too long", lrcDoc(`actions: [{type: jwt-validation, jwtValidationConfig: {issuer: ` + strings.Repeat("i", 257) + `, jwksEndpoint: j}}]`), `jwtValidationConfig.issuer: Too long`},
			{"jwt claim format out of the enum", lrcDoc(`actions: [{type: jwt-validation, jwtValidationConfig: {issuer: i, jwksEndpoint: j, additionalClaims: [{format: number, name: n, values: [v]}]}}]`), `Unsupported value: "number"`},
			{"jwt claim without values", lrcDoc(`actions: [{type: jwt-validation, jwtValidationConfig: {issuer: i, jwksEndpoint: j, additionalClaims: [{format: single-string, name: n, values: []}]}}]`), `additionalClaims[0].values`},
			{"jwt claim value too long", lrcDoc(`actions: [{type: jwt-validation, jwtValidationConfig: {issuer: i, jwksEndpoint: j, additionalClaims: [{format: single-string, name: n, values: [` + strings.Repeat("v", 257) + `]}]}}]`), `additionalClaims[0].values[0]: Too long`},
			{"condition field out of the enum", lrcDoc(`conditions: [{field: host-header}]`), `Unsupported value: "host-header"`},
			{"source-ip without its config", lrcDoc(`conditions: [{field: source-ip}]`), `sourceIPConfig must be specified only when field is 'source-ip'`},
			{"source-ip without values", lrcDoc(`conditions: [{field: source-ip, sourceIPConfig: {values: []}}]`), `sourceIPConfig.values`},
			{"empty conditions", lrcDoc(`conditions: []`), `spec.conditions`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var m map[string]any
				if err := yaml.Unmarshal([]byte(tc.doc), &m); err != nil {
					t.Fatal(err)
				}
				err := c.Create(ctx, &unstructured.Unstructured{Object: m})
				if err == nil {
					t.Fatalf("created:\n%s", tc.doc)
				}
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want an Invalid error containing %q", err, tc.want)
				}
			})
		}
	})
}

// invalidDoc is a v1beta1 object of kind named "invalid" in namespace
// default with the given spec (one line of YAML flow syntax).
func invalidDoc(kind, spec string) string {
	return "apiVersion: gateway.k8s.aws/v1beta1\nkind: " + kind + "\nmetadata: {name: invalid, namespace: default}\nspec:\n  " + spec + "\n"
}

func lbcDoc(spec string) string { return invalidDoc("LoadBalancerConfiguration", spec) }
func tgcDoc(spec string) string { return invalidDoc("TargetGroupConfiguration", spec) }
func lrcDoc(spec string) string { return invalidDoc("ListenerRuleConfiguration", spec) }

func mustDecode(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatal(err)
	}
}

// withReferenceDefaults applies to a spec the defaults the reference
// controller's CRDs give the fields the examples leave out.
func withReferenceDefaults(spec any) any {
	switch s := spec.(type) {
	case v1beta1.LoadBalancerConfigurationSpec:
		if s.ListenerConfigurations != nil {
			ls := slices.Clone(*s.ListenerConfigurations)
			for i := range ls {
				if ls[i].ALPNPolicy == nil {
					ls[i].ALPNPolicy = ptr.To(v1beta1.ALPNPolicyNone)
				}
			}
			s.ListenerConfigurations = &ls
		}
		return s
	case v1beta1.TargetGroupConfigurationSpec:
		if s.TargetReference != nil {
			r := *s.TargetReference
			if r.Group == nil {
				r.Group = ptr.To("")
			}
			if r.Kind == nil {
				r.Kind = ptr.To("Service")
			}
			s.TargetReference = &r
		}
		return s
	}
	return spec
}

// roundTrip creates d's object as v1beta1 (which the API server warns is
// deprecated), reads it back as v1beta1 and as v1 (without a warning) and
// compares the specs with d's (defaults applied to it first when given),
// then deletes it.
func roundTrip(t *testing.T, c client.Client, warned *warnings, d decoded, defaults func(any) any) {
	t.Helper()
	ctx := t.Context()
	obj := d.typed.DeepCopyObject().(client.Object)
	kind := reflect.TypeOf(obj).Elem().Name()
	name := kind + " " + obj.GetNamespace() + "/" + obj.GetName()
	warned.take()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	deprecation := "gateway.k8s.aws/v1beta1 " + kind + " is deprecated; use gateway.k8s.aws/v1 instead"
	if w := warned.take(); !slices.Contains(w, deprecation) {
		t.Errorf("create %s: warnings %q, want %q", name, w, deprecation)
	}
	want := d.spec
	if defaults != nil {
		want = defaults(want)
	}
	for i, got := range newObjects(kind) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
			t.Fatalf("get %s as %T: %v", name, got, err)
		}
		if diff := cmp.Diff(want, specOf(got)); diff != "" {
			t.Errorf("%s read back as %T (-want +got):\n%s", name, got, diff)
		}
		if w := warned.take(); i == 1 && len(w) > 0 {
			t.Errorf("get %s as %T: warnings %q, want none", name, got, w)
		}
	}
	if err := c.Delete(ctx, obj); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

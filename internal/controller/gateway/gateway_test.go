package gateway_test

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/cloudfacts"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/gateway"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

const cluster = "test"

type staticFacts struct{ f *facts.Facts }

func (s staticFacts) Facts(context.Context, bool) (*facts.Facts, error) { return s.f, nil }

// env is a kube-apiserver with the Gateway API CRDs, a local ELB (API
// only) and the ALB Gateway controller with the real deployer.
type env struct {
	t   *testing.T
	c   client.Client
	elb *elbtest.Env
	ctx context.Context
}

func start(t *testing.T) *env {
	t.Helper()
	cfg := ctrltest.APIServerWithGatewayAPI(t)
	e := &env{t: t, c: ctrltest.Client(t, cfg), ctx: context.Background()}
	e.elb = elbtest.StartWith(t, elbtest.Options{ClusterName: cluster, NoDataPlanes: true})
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	// Each test starts its own controller: their names repeat.
	skipNames := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skipNames},
		Logger:     logr.FromSlogHandler(ctrltest.Logger(t).Handler())})
	if err != nil {
		t.Fatal(err)
	}
	secrets := &controller.SecretSource{}
	secrets.SetReader(mgr.GetAPIReader())
	dep, err := deploy.New(e.elb.ELBv2, e.elb.EC2, deploy.Config{ClusterName: cluster, ACM: e.elb.ACM, Secrets: secrets, DeleteTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opts := translate.DefaultOptions()
	opts.ClusterName = cluster
	cloud, err := translate.NewCloud(e.elb.Facts, &opts)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := gateway.Detect(e.ctx, mgr.GetRESTMapper(), mgr.GetAPIReader())
	if err != nil {
		t.Fatal(err)
	}
	c := &gateway.Config{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Deployer: dep,
		Facts: staticFacts{e.elb.Facts}, Options: opts, Events: kube.Recorder{Events: mgr.GetEventRecorder("gateway")},
		BackendSG: &cloudfacts.BackendSG{EC2: e.elb.EC2, VpcID: cloud.VPCID(), ClusterName: cluster, Name: cloud.BackendSecurityGroupName()},
		Kinds:     kinds, Logger: ctrltest.Logger(t),
	}
	if err := gateway.Setup(e.ctx, mgr, c, 2); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// in returns the environment reporting to t, a subtest's.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) create(objs ...client.Object) {
	e.t.Helper()
	for _, o := range objs {
		if err := e.c.Create(e.ctx, o); err != nil {
			e.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// update applies edit to the latest version of obj until no conflict.
func (e *env) update(obj client.Object, edit func()) {
	e.t.Helper()
	for i := 0; ; i++ {
		if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			e.t.Fatal(err)
		}
		edit()
		err := e.c.Update(e.ctx, obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 10 {
			e.t.Fatal(err)
		}
	}
}

func (e *env) get(obj client.Object) error {
	return e.c.Get(e.ctx, client.ObjectKeyFromObject(obj), obj)
}

func (e *env) eventually(cond func() error) {
	e.t.Helper()
	ctrltest.Eventually(e.t, 60*time.Second, cond)
}

// condition checks a condition's status and reason.
func condition(cs []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(cs, typ)
	if c == nil {
		return fmt.Errorf("no %s condition in %v", typ, cs)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s (%s: %s), want %s (%s)", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	if c.LastTransitionTime.IsZero() {
		return fmt.Errorf("%s has no lastTransitionTime", typ)
	}
	return nil
}

// loadBalancer returns the local ELB's load balancer with the DNS name.
func (e *env) loadBalancer(dns string) (*elbv2types.LoadBalancer, error) {
	out, err := e.elb.ELBv2.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return nil, err
	}
	for _, lb := range out.LoadBalancers {
		if strings.EqualFold(aws.ToString(lb.DNSName), dns) {
			return &lb, nil
		}
	}
	return nil, fmt.Errorf("no load balancer %s", dns)
}

// programmed waits until the Gateway is Accepted and Programmed and
// returns its load balancer.
func (e *env) programmed(gw *gwv1.Gateway) *elbv2types.LoadBalancer {
	e.t.Helper()
	var lb *elbv2types.LoadBalancer
	e.eventually(func() error {
		if err := e.get(gw); err != nil {
			return err
		}
		if err := condition(gw.Status.Conditions, string(gwv1.GatewayConditionAccepted), metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted)); err != nil {
			return err
		}
		if err := condition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed), metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed)); err != nil {
			return err
		}
		if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Type == nil || *gw.Status.Addresses[0].Type != gwv1.HostnameAddressType {
			return fmt.Errorf("addresses %+v", gw.Status.Addresses)
		}
		dns := gw.Status.Addresses[0].Value
		if dns != strings.ToLower(dns) {
			return fmt.Errorf("address %s is not lower-cased", dns)
		}
		var err error
		lb, err = e.loadBalancer(dns)
		return err
	})
	return lb
}

// parent returns the route parent status of the controller for the
// Gateway.
func parent(ps []gwv1.RouteParentStatus, controller gwv1.GatewayController, gw string) *gwv1.RouteParentStatus {
	for i := range ps {
		if ps[i].ControllerName == controller && string(ps[i].ParentRef.Name) == gw {
			return &ps[i]
		}
	}
	return nil
}

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func service(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
	}}
}

// ipTargets makes a Service's target groups of type ip.
func ipTargets(ns, svc string) *gwaws.TargetGroupConfiguration {
	ip := v1beta1.TargetTypeIP
	return &gwaws.TargetGroupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc}, Spec: v1beta1.TargetGroupConfigurationSpec{
		TargetReference:      &v1beta1.Reference{Name: svc},
		DefaultConfiguration: v1beta1.TargetGroupProps{TargetType: &ip},
	}}
}

func gatewayOf(ns, name string, listeners ...gwv1.Listener) *gwv1.Gateway {
	return &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.GatewaySpec{GatewayClassName: "alb", Listeners: listeners}}
}

func httpListener() gwv1.Listener {
	return gwv1.Listener{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}
}

func route(ns, name string, parents []string, backend string) *gwv1.HTTPRoute {
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, p := range parents {
		r.Spec.ParentRefs = append(r.Spec.ParentRefs, gwv1.ParentReference{Name: gwv1.ObjectName(p)})
	}
	port := gwv1.PortNumber(80)
	r.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(backend), Port: &port}}}}}}
	return r
}

// TestGatewayController runs the ALB Gateway controller on a real API
// server with the real deployer and a local ELB, through the life of a
// class, Gateways, routes, a certificate Secret and configurations.
func TestGatewayController(t *testing.T) {
	e := start(t)
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: gwv1.GatewayClassSpec{ControllerName: trgw.ControllerALB}}
	other := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/other"}}
	e.create(class, other, ns("shop"), service("shop", "web"), ipTargets("shop", "web"))

	t.Run("class", func(t *testing.T) {
		e := e.in(t)
		e.eventually(func() error {
			if err := e.get(class); err != nil {
				return err
			}
			if !slices.Contains(class.Finalizers, trgw.FinalizerGatewayClass) {
				return fmt.Errorf("finalizers %v", class.Finalizers)
			}
			if err := condition(class.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted), metav1.ConditionTrue, string(gwv1.GatewayClassReasonAccepted)); err != nil {
				return err
			}
			if err := condition(class.Status.Conditions, string(gwv1.GatewayClassConditionStatusSupportedVersion), metav1.ConditionTrue, ""); err != nil {
				return err
			}
			var got []string
			for _, f := range class.Status.SupportedFeatures {
				got = append(got, string(f.Name))
			}
			var want []string
			for _, f := range trgw.SupportedFeatures {
				want = append(want, string(f))
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("supportedFeatures %v, want %v", got, want)
			}
			return nil
		})
		// Another controller's class is left alone.
		if err := e.get(other); err != nil {
			t.Fatal(err)
		}
		if len(other.Finalizers) != 0 || len(other.Status.Conditions) != 0 && other.Status.Conditions[0].Reason != string(gwv1.GatewayClassReasonPending) {
			t.Errorf("class of another controller touched: %v %+v", other.Finalizers, other.Status.Conditions)
		}
	})

	web := gatewayOf("shop", "web", httpListener())
	webRoute := route("shop", "web", []string{"web"}, "web")
	broken := route("shop", "broken", []string{"web"}, "missing")
	t.Run("gateway and routes", func(t *testing.T) {
		e := e.in(t)
		e.create(web, webRoute, broken)
		lb := e.programmed(web)
		if !slices.Contains(web.Finalizers, trgw.FinalizerALBGateway) {
			t.Errorf("finalizers %v", web.Finalizers)
		}
		e.eventually(func() error {
			if err := e.get(web); err != nil {
				return err
			}
			if len(web.Status.Listeners) != 1 || web.Status.Listeners[0].AttachedRoutes != 2 {
				return fmt.Errorf("listeners %+v, want one with 2 attached routes", web.Status.Listeners)
			}
			return condition(web.Status.Listeners[0].Conditions, string(gwv1.ListenerConditionProgrammed), metav1.ConditionTrue, "")
		})
		e.eventually(func() error {
			if err := e.get(webRoute); err != nil {
				return err
			}
			p := parent(webRoute.Status.Parents, trgw.ControllerALB, "web")
			if p == nil {
				return fmt.Errorf("parents %+v", webRoute.Status.Parents)
			}
			if err := condition(p.Conditions, string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, string(gwv1.RouteReasonAccepted)); err != nil {
				return err
			}
			return condition(p.Conditions, string(gwv1.RouteConditionResolvedRefs), metav1.ConditionTrue, string(gwv1.RouteReasonResolvedRefs))
		})
		// One broken route does not stop the other; it says why.
		e.eventually(func() error {
			if err := e.get(broken); err != nil {
				return err
			}
			p := parent(broken.Status.Parents, trgw.ControllerALB, "web")
			if p == nil {
				return fmt.Errorf("parents %+v", broken.Status.Parents)
			}
			return condition(p.Conditions, string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
		})
		ls, err := e.elb.ELBv2.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		if err != nil || len(ls.Listeners) != 1 || aws.ToInt32(ls.Listeners[0].Port) != 80 {
			t.Fatalf("listeners %+v, %v", ls, err)
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := e.c.List(e.ctx, &tgbs, client.InNamespace("shop"), client.MatchingLabels{stack.TagPrefixGatewayALB + "/stack-name": "web"}); err != nil || len(tgbs.Items) != 1 {
			t.Fatalf("target group bindings %d, %v", len(tgbs.Items), err)
		}
		if got := tgbs.Items[0].Spec.ServiceRef.Name; got != "web" || tgbs.Items[0].Spec.TargetType == nil || *tgbs.Items[0].Spec.TargetType != elbv2api.TargetTypeIP {
			t.Errorf("binding for Service %s, target type %v", got, tgbs.Items[0].Spec.TargetType)
		}
	})

	t.Run("other controllers' route status is kept", func(t *testing.T) {
		e := e.in(t)
		// Another controller's entry for its own Gateway.
		elsewhere := gatewayOf("shop", "elsewhere", httpListener())
		elsewhere.Spec.GatewayClassName = "other"
		e.create(elsewhere)
		e.update(webRoute, func() {
			webRoute.Spec.ParentRefs = append(webRoute.Spec.ParentRefs, gwv1.ParentReference{Name: "elsewhere"})
		})
		theirs := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "elsewhere"}, ControllerName: "example.com/other",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Now(), ObservedGeneration: 1}}}
		for {
			if err := e.get(webRoute); err != nil {
				t.Fatal(err)
			}
			webRoute.Status.Parents = append(webRoute.Status.Parents, theirs)
			err := e.c.Status().Update(e.ctx, webRoute)
			if err == nil {
				break
			}
			if !apierrors.IsConflict(err) {
				t.Fatal(err)
			}
		}
		// The route leaves our Gateway: our entry goes, theirs stays.
		e.update(webRoute, func() { webRoute.Spec.ParentRefs = []gwv1.ParentReference{{Name: "elsewhere"}} })
		e.eventually(func() error {
			if err := e.get(webRoute); err != nil {
				return err
			}
			if p := parent(webRoute.Status.Parents, trgw.ControllerALB, "web"); p != nil {
				return fmt.Errorf("our entry is still there: %+v", webRoute.Status.Parents)
			}
			if parent(webRoute.Status.Parents, "example.com/other", "elsewhere") == nil {
				return fmt.Errorf("the other controller's entry is gone: %+v", webRoute.Status.Parents)
			}
			return nil
		})
		// And comes back.
		e.update(webRoute, func() { webRoute.Spec.ParentRefs = []gwv1.ParentReference{{Name: "web"}, {Name: "elsewhere"}} })
		e.eventually(func() error {
			if err := e.get(webRoute); err != nil {
				return err
			}
			if parent(webRoute.Status.Parents, trgw.ControllerALB, "web") == nil || parent(webRoute.Status.Parents, "example.com/other", "elsewhere") == nil {
				return fmt.Errorf("parents %+v", webRoute.Status.Parents)
			}
			return nil
		})
	})

	t.Run("certificate from a Secret", func(t *testing.T) {
		e := e.in(t)
		crt, key := ctrltest.SelfSigned(t, elliptic.P256(), "secure.example.com")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "secure-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
		secure := gatewayOf("shop", "secure", gwv1.Listener{Name: "https", Port: 443, Protocol: gwv1.HTTPSProtocolType,
			TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "secure-tls"}}}})
		e.create(secret, secure, route("shop", "secure", []string{"secure"}, "web"))
		lb := e.programmed(secure)
		var arn string
		e.eventually(func() error {
			ls, err := e.elb.ELBv2.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
			if err != nil || len(ls.Listeners) != 1 || len(ls.Listeners[0].Certificates) != 1 {
				return fmt.Errorf("listeners %+v, %v", ls, err)
			}
			arn = aws.ToString(ls.Listeners[0].Certificates[0].CertificateArn)
			return nil
		})
		content := func() (string, error) {
			tags, err := e.elb.ACM.ListTagsForCertificate(e.ctx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
			if err != nil {
				return "", err
			}
			for _, tag := range tags.Tags {
				if aws.ToString(tag.Key) == stack.TagCertificateContent {
					return aws.ToString(tag.Value), nil
				}
			}
			return "", fmt.Errorf("certificate %s has no content tag", arn)
		}
		if got, err := content(); err != nil || got != stack.CertificateContentSHA256(crt, key) {
			t.Fatalf("content tag %q (%v), want the Secret's digest", got, err)
		}
		// The Secret renewed (as cert-manager does): re-imported in place.
		crt2, key2 := ctrltest.SelfSigned(t, elliptic.P256(), "secure.example.com")
		e.update(secret, func() { secret.Data = map[string][]byte{corev1.TLSCertKey: crt2, corev1.TLSPrivateKeyKey: key2} })
		e.eventually(func() error {
			got, err := content()
			if err != nil {
				return err
			}
			if got != stack.CertificateContentSHA256(crt2, key2) {
				return fmt.Errorf("certificate %s not re-imported yet", arn)
			}
			return nil
		})
		cert, err := e.elb.ACM.GetCertificate(e.ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
		if err != nil || aws.ToString(cert.Certificate) != string(crt2) {
			t.Errorf("ACM certificate %s does not hold the renewed certificate (%v)", arn, err)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		e := e.in(t)
		plan := gatewayOf("shop", "plan", httpListener())
		plan.Annotations = map[string]string{trgw.AnnotationDryRun: "true"}
		e.create(plan)
		e.eventually(func() error {
			if err := e.get(plan); err != nil {
				return err
			}
			var s map[string]any
			if err := json.Unmarshal([]byte(plan.Annotations[trgw.AnnotationDryRunPlan]), &s); err != nil {
				return fmt.Errorf("plan annotation: %v", err)
			}
			if !strings.Contains(plan.Annotations[trgw.AnnotationDryRunPlan], stack.TypeLoadBalancer) {
				return fmt.Errorf("plan without a load balancer: %s", plan.Annotations[trgw.AnnotationDryRunPlan])
			}
			return condition(plan.Status.Conditions, string(gwv1.GatewayConditionProgrammed), metav1.ConditionFalse, string(gwv1.GatewayReasonPending))
		})
		if len(plan.Finalizers) != 0 || len(plan.Status.Addresses) != 0 {
			t.Errorf("dry run: finalizers %v, addresses %v", plan.Finalizers, plan.Status.Addresses)
		}
		// Out of dry run: deployed, the plan annotation gone.
		e.update(plan, func() { delete(plan.Annotations, trgw.AnnotationDryRun) })
		e.programmed(plan)
		e.eventually(func() error {
			if err := e.get(plan); err != nil {
				return err
			}
			if _, ok := plan.Annotations[trgw.AnnotationDryRunPlan]; ok {
				return fmt.Errorf("plan annotation still there")
			}
			return nil
		})
	})

	t.Run("configurations", func(t *testing.T) {
		e := e.in(t)
		attrs := []v1beta1.LoadBalancerAttribute{{Key: "idle_timeout.timeout_seconds", Value: "61"}}
		lbc := &gwaws.LoadBalancerConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: v1beta1.LoadBalancerConfigurationSpec{LoadBalancerAttributes: attrs}}
		lrc := &gwaws.ListenerRuleConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "unused"}}
		e.create(lbc, lrc)
		e.update(web, func() {
			web.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.k8s.aws", Kind: "LoadBalancerConfiguration", Name: "web"}}
		})
		lb := e.programmed(web)
		e.eventually(func() error {
			out, err := e.elb.ELBv2.DescribeLoadBalancerAttributes(e.ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn})
			if err != nil {
				return err
			}
			for _, a := range out.Attributes {
				if aws.ToString(a.Key) == "idle_timeout.timeout_seconds" && aws.ToString(a.Value) != "61" {
					return fmt.Errorf("idle timeout %s", aws.ToString(a.Value))
				}
			}
			if err := e.get(lbc); err != nil {
				return err
			}
			if !slices.Contains(lbc.Finalizers, trgw.FinalizerLoadBalancerConfiguration) {
				return fmt.Errorf("LoadBalancerConfiguration finalizers %v", lbc.Finalizers)
			}
			if g := lbc.Status.ObservedGatewayConfigurationGeneration; g == nil || *g != lbc.Generation {
				return fmt.Errorf("LoadBalancerConfiguration status %+v", lbc.Status)
			}
			if err := e.get(lrc); err != nil {
				return err
			}
			if !slices.Contains(lrc.Finalizers, trgw.FinalizerListenerRuleConfiguration) || lrc.Status.Accepted == nil || !*lrc.Status.Accepted {
				return fmt.Errorf("ListenerRuleConfiguration %v %+v", lrc.Finalizers, lrc.Status)
			}
			return nil
		})
		// Deleted while the Gateway uses it: kept until it does not.
		if err := e.c.Delete(e.ctx, lbc); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // a reconcile that wrongly released it would have by now
		if err := e.get(lbc); err != nil || lbc.DeletionTimestamp == nil {
			t.Fatalf("LoadBalancerConfiguration in use: %v, deletion %v", err, lbc.DeletionTimestamp)
		}
		e.update(web, func() { web.Spec.Infrastructure = nil })
		e.eventually(func() error {
			if err := e.get(lbc); !apierrors.IsNotFound(err) {
				return fmt.Errorf("LoadBalancerConfiguration still there (%v)", err)
			}
			return nil
		})
		if err := e.c.Delete(e.ctx, lrc); err != nil {
			t.Fatal(err)
		}
		e.eventually(func() error {
			if err := e.get(lrc); !apierrors.IsNotFound(err) {
				return fmt.Errorf("unused ListenerRuleConfiguration still there (%v)", err)
			}
			return nil
		})
	})

	t.Run("deletion", func(t *testing.T) {
		e := e.in(t)
		if err := e.c.Delete(e.ctx, class); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"web", "secure", "plan"} {
			if err := e.c.Delete(e.ctx, gatewayOf("shop", name)); err != nil {
				t.Fatal(err)
			}
		}
		e.eventually(func() error {
			var gws gwv1.GatewayList
			if err := e.c.List(e.ctx, &gws, client.InNamespace("shop")); err != nil {
				return err
			}
			if len(gws.Items) != 1 || gws.Items[0].Name != "elsewhere" {
				return fmt.Errorf("%d Gateways left", len(gws.Items))
			}
			lbs, err := e.elb.ELBv2.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
			if err != nil {
				return err
			}
			tgs, err := e.elb.ELBv2.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{})
			if err != nil {
				return err
			}
			certs, err := e.elb.ACM.ListCertificates(e.ctx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmEcPrime256v1}}})
			if err != nil {
				return err
			}
			if n := len(lbs.LoadBalancers) + len(tgs.TargetGroups) + len(certs.CertificateSummaryList); n != 0 {
				return fmt.Errorf("%d load balancers, %d target groups, %d certificates left", len(lbs.LoadBalancers), len(tgs.TargetGroups), len(certs.CertificateSummaryList))
			}
			var tgbs elbv2api.TargetGroupBindingList
			if err := e.c.List(e.ctx, &tgbs); err != nil || len(tgbs.Items) != 0 {
				return fmt.Errorf("%d target group bindings left (%v)", len(tgbs.Items), err)
			}
			// The class goes once no Gateway of it is left.
			if err := e.get(class); !apierrors.IsNotFound(err) {
				return fmt.Errorf("GatewayClass still there (%v)", err)
			}
			return nil
		})
		// The routes no longer name a Gateway of ours: our entries went.
		e.eventually(func() error {
			if err := e.get(broken); err != nil {
				return err
			}
			if p := parent(broken.Status.Parents, trgw.ControllerALB, "web"); p != nil {
				return fmt.Errorf("route of a deleted Gateway keeps our entry: %+v", p)
			}
			return nil
		})
	})
}

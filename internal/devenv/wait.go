package devenv

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ingress"
	"github.com/elbowlb/elbow/internal/controller/service"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
	tsvc "github.com/elbowlb/elbow/internal/translate/service"
)

// ObjectRef names a Kubernetes object in the report.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Report is what endpoints.json holds.
type Report struct {
	// Controller is the controller elbow dev runs: ControllerElbow or
	// ControllerNone.
	Controller string `json:"controller"`
	// Pending says what elbow dev waits for before it applies the files
	// (with --controller=none, a controller's webhook server); the load
	// balancers are listed once it is empty.
	Pending string `json:"pending,omitempty"`
	// ELBEndpoint is the local ELB's AWS endpoint (aws --endpoint-url).
	ELBEndpoint string `json:"elbEndpoint"`
	// DNSServer answers A queries for the load balancers' DNS names.
	DNSServer string `json:"dnsServer"`
	// Console is the local ELB's web console (docs/console.md).
	Console string `json:"console"`
	// Kubeconfig is the admin kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
	// Settings are what another controller or AWS client needs.
	Settings      *Settings      `json:"settings"`
	Nodes         []NodeInfo     `json:"nodes"`
	LoadBalancers []LoadBalancer `json:"loadBalancers"`
	// NotServed lists the applied objects that asked for a load balancer
	// and have none that serves, with the reason.
	NotServed []NotServed `json:"notServed,omitempty"`
}

// NodeInfo is a node of the cluster.
type NodeInfo struct {
	Name       string `json:"name"`
	Zone       string `json:"zone"`
	InstanceID string `json:"instanceID"`
	// IP is the node's VPC address; HostIP where it is realised.
	IP     string `json:"ip"`
	HostIP string `json:"hostIP"`
}

// LoadBalancer is a load balancer that applied objects produced.
type LoadBalancer struct {
	// Objects are the Ingresses (one IngressGroup) or the Service it
	// comes from.
	Objects   []ObjectRef `json:"objects"`
	Name      string      `json:"name"`
	ARN       string      `json:"arn"`
	Type      string      `json:"type"`
	Scheme    string      `json:"scheme"`
	DNSName   string      `json:"dnsName"`
	Addresses []Address   `json:"addresses"`
	Listeners []Listener  `json:"listeners"`
	// Hosts are the host names the Ingresses' rules name.
	Hosts []string `json:"hosts,omitempty"`
	// Serving is true once a request through every listener got an
	// answer (Listener.Check).
	Serving bool `json:"serving"`
	// Problems say what is not serving yet.
	Problems []string `json:"problems,omitempty"`
	// Warnings name target groups without a healthy target (a load
	// balancer whose targets are all unhealthy fails open, as on AWS).
	Warnings []string `json:"warnings,omitempty"`
}

// Address is a load balancer's address in one zone.
type Address struct {
	Zone string `json:"zone"`
	IP   string `json:"ip"`
}

// Listener is a load balancer listener, with a command that reaches it.
type Listener struct {
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	// TargetProtocolVersion is the default target group's (HTTP1,
	// HTTP2, GRPC), for ALB listeners.
	TargetProtocolVersion string `json:"targetProtocolVersion,omitempty"`
	Command               string `json:"command"`
	// Check is what a request through the listener got, once it served.
	Check string `json:"check,omitempty"`
	// Address is the load balancer address the check went through (the
	// first in zone order that served) and Command uses.
	Address string `json:"address,omitempty"`
}

// NotServed is an object without a serving load balancer.
type NotServed struct {
	Object ObjectRef `json:"object"`
	Reason string    `json:"reason"`
}

// candidate is an applied object that may produce a load balancer.
type candidate struct {
	ref ObjectRef
	// hostname is the DNS name in the object's status, once there.
	hostname string
	// status is the controller's latest word on it (status annotation or
	// condition message).
	status string
	// skip says why the object gets no load balancer from elbow.
	skip string
	// none is set for objects that ask for no load balancer (a Service
	// not of type LoadBalancer).
	none  bool
	hosts []string
}

// waitServing waits until every load balancer the applied objects produce
// serves, or the wait ends, and reports them.
func (e *Env) waitServing(ctx context.Context, applied []Object) (*Report, error) {
	scheme, err := controller.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(e.rest, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	rep := e.baseReport()
	var cands []*candidate
	for _, o := range applied {
		ref := ObjectRef{Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
		gk := o.GroupVersionKind().GroupKind()
		switch {
		case gk.Group == "networking.k8s.io" && gk.Kind == "Ingress":
			cands = append(cands, &candidate{ref: ref})
		case gk.Group == "" && gk.Kind == "Service":
			cands = append(cands, &candidate{ref: ref})
		case gk.Group == "gateway.networking.k8s.io" && gk.Kind == "Gateway":
			cands = append(cands, &candidate{ref: ref})
		}
	}
	deadline := time.Now().Add(e.cfg.Wait)
	elb := elbv2.NewFromConfig(e.aws)
	lastSay := map[string]string{}
	for {
		lbs, pending, err := e.survey(ctx, c, elb, cands)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		if err != nil {
			e.log.Warn("survey", "error", err)
		}
		// Say what changed, once.
		for _, cd := range cands {
			msg := cd.skip
			if msg == "" && cd.hostname == "" && cd.status != "" {
				msg = cd.status
			}
			if msg != "" && lastSay[cd.ref.String()] != msg {
				lastSay[cd.ref.String()] = msg
				e.progress("%s: %s", cd.ref, msg)
			}
		}
		if err == nil && pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			for _, cd := range cands {
				switch {
				case cd.none:
				case cd.skip != "":
					rep.NotServed = append(rep.NotServed, NotServed{Object: cd.ref, Reason: cd.skip})
				case cd.hostname == "":
					reason := "the controller has not deployed a load balancer for it"
					if cd.status != "" {
						reason += ": " + cd.status
					}
					rep.NotServed = append(rep.NotServed, NotServed{Object: cd.ref, Reason: reason})
				}
			}
			rep.LoadBalancers = lbs
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// survey reads the candidates and their load balancers once. It returns
// the load balancers and how many candidates or load balancers are not
// ready yet.
func (e *Env) survey(ctx context.Context, c client.Client, elb *elbv2.Client, cands []*candidate) ([]LoadBalancer, int, error) {
	var classes networking.IngressClassList
	if err := c.List(ctx, &classes); err != nil {
		return nil, 0, err
	}
	var params elbv2api.IngressClassParamsList
	if err := c.List(ctx, &params); err != nil {
		return nil, 0, err
	}
	topts := translate.DefaultOptions()
	topts.ClusterName = e.cfg.ClusterName
	pending := 0
	byDNS := map[string][]*candidate{}
	for _, cd := range cands {
		key := types.NamespacedName{Namespace: cd.ref.Namespace, Name: cd.ref.Name}
		switch cd.ref.Kind {
		case "Ingress":
			var ing networking.Ingress
			if err := c.Get(ctx, key, &ing); err != nil {
				return nil, 0, err
			}
			if len(ingress.GroupsOf(&ing, classes.Items, params.Items, "alb")) == 0 {
				cd.skip = "not an ALB Ingress (no IngressClass of controller ingress.k8s.aws/alb, no kubernetes.io/ingress.class: alb)"
				continue
			}
			cd.status = ing.Annotations[ingress.StatusAnnotation]
			cd.hostname = ""
			if len(ing.Status.LoadBalancer.Ingress) > 0 {
				cd.hostname = ing.Status.LoadBalancer.Ingress[0].Hostname
			}
			cd.hosts = nil
			for _, r := range ing.Spec.Rules {
				if r.Host != "" {
					cd.hosts = append(cd.hosts, r.Host)
				}
			}
		case "Service":
			var svc corev1.Service
			if err := c.Get(ctx, key, &svc); err != nil {
				return nil, 0, err
			}
			cd.none = svc.Spec.Type != corev1.ServiceTypeLoadBalancer
			if cd.none {
				continue
			}
			if ok, why := tsvc.Supported(&svc, &topts); !ok {
				cd.skip = "not an NLB Service: " + why
				continue
			}
			cd.status = ""
			for _, cond := range svc.Status.Conditions {
				if cond.Type == service.ConditionReady && cond.Status != "True" {
					cd.status = cond.Reason + ": " + cond.Message
				}
			}
			cd.hostname = ""
			if len(svc.Status.LoadBalancer.Ingress) > 0 {
				cd.hostname = svc.Status.LoadBalancer.Ingress[0].Hostname
			}
		case "Gateway":
			if err := surveyGateway(ctx, c, key, cd); err != nil {
				return nil, 0, err
			}
			if cd.skip != "" {
				continue
			}
		}
		if cd.hostname == "" {
			pending++
			continue
		}
		byDNS[strings.ToLower(cd.hostname)] = append(byDNS[strings.ToLower(cd.hostname)], cd)
	}
	if len(byDNS) == 0 {
		return nil, pending, nil
	}
	all, err := describeAll(ctx, elb)
	if err != nil {
		return nil, 0, err
	}
	var out []LoadBalancer
	for _, dns := range translate.SortedKeys(byDNS) {
		var lb *elbv2types.LoadBalancer
		for i := range all {
			if strings.ToLower(aws.ToString(all[i].DNSName)) == dns {
				lb = &all[i]
			}
		}
		if lb == nil {
			pending++
			continue
		}
		r, err := e.inspect(ctx, elb, lb, byDNS[dns])
		if err != nil {
			return nil, 0, err
		}
		if !r.Serving {
			pending++
		}
		out = append(out, r)
	}
	return out, pending, nil
}

func describeAll(ctx context.Context, elb *elbv2.Client) ([]elbv2types.LoadBalancer, error) {
	var out []elbv2types.LoadBalancer
	p := elbv2.NewDescribeLoadBalancersPaginator(elb, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe load balancers: %w", err)
		}
		out = append(out, page.LoadBalancers...)
	}
	return out, nil
}

// inspect reads a load balancer's listeners and target health, and tries
// its TCP listeners.
func (e *Env) inspect(ctx context.Context, elb *elbv2.Client, lb *elbv2types.LoadBalancer, cands []*candidate) (LoadBalancer, error) {
	r := LoadBalancer{
		Name: aws.ToString(lb.LoadBalancerName), ARN: aws.ToString(lb.LoadBalancerArn),
		Type: string(lb.Type), Scheme: string(lb.Scheme), DNSName: aws.ToString(lb.DNSName),
	}
	hostSet := map[string]bool{}
	for _, cd := range cands {
		r.Objects = append(r.Objects, cd.ref)
		for _, h := range cd.hosts {
			if !hostSet[h] {
				hostSet[h] = true
				r.Hosts = append(r.Hosts, h)
			}
		}
	}
	for _, az := range lb.AvailabilityZones {
		for _, a := range az.LoadBalancerAddresses {
			ip := aws.ToString(a.IpAddress)
			if ip == "" {
				ip = aws.ToString(a.PrivateIPv4Address)
			}
			if ip != "" {
				r.Addresses = append(r.Addresses, Address{Zone: aws.ToString(az.ZoneName), IP: ip})
			}
		}
	}
	sort.Slice(r.Addresses, func(i, j int) bool { return r.Addresses[i].Zone < r.Addresses[j].Zone })
	if lb.State == nil || lb.State.Code != elbv2types.LoadBalancerStateEnumActive {
		state := "unknown"
		if lb.State != nil {
			state = string(lb.State.Code)
		}
		r.Problems = append(r.Problems, "load balancer is "+state)
	}
	ls, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		return r, fmt.Errorf("describe listeners of %s: %w", r.Name, err)
	}
	tgs, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		return r, fmt.Errorf("describe target groups of %s: %w", r.Name, err)
	}
	version := map[string]string{}
	for _, tg := range tgs.TargetGroups {
		version[aws.ToString(tg.TargetGroupArn)] = aws.ToString(tg.ProtocolVersion)
		h, err := elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			return r, fmt.Errorf("describe target health of %s: %w", aws.ToString(tg.TargetGroupName), err)
		}
		healthy, reasons := 0, map[string]bool{}
		for _, d := range h.TargetHealthDescriptions {
			if d.TargetHealth == nil {
				continue
			}
			if d.TargetHealth.State == elbv2types.TargetHealthStateEnumHealthy {
				healthy++
			} else if d.TargetHealth.Reason != "" {
				reasons[string(d.TargetHealth.Reason)] = true
			}
		}
		if healthy == 0 {
			why := "no registered target"
			if len(h.TargetHealthDescriptions) > 0 {
				why = fmt.Sprintf("0 of %d targets healthy", len(h.TargetHealthDescriptions))
				if len(reasons) > 0 {
					why += " (" + strings.Join(translate.SortedKeys(reasons), ", ") + ")"
				}
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf("target group %s: %s", aws.ToString(tg.TargetGroupName), why))
		}
	}
	for _, l := range ls.Listeners {
		li := Listener{Protocol: string(l.Protocol), Port: aws.ToInt32(l.Port)}
		for _, a := range l.DefaultActions {
			if a.TargetGroupArn != nil {
				li.TargetProtocolVersion = version[aws.ToString(a.TargetGroupArn)]
			}
			if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 && li.TargetProtocolVersion == "" {
				li.TargetProtocolVersion = version[aws.ToString(a.ForwardConfig.TargetGroups[0].TargetGroupArn)]
			}
		}
		if li.TargetProtocolVersion == "" && r.Type == "application" {
			// The default action is not a forward: take the rules' target
			// groups (all of one version on an Ingress's listener).
			for _, tg := range tgs.TargetGroups {
				if v := aws.ToString(tg.ProtocolVersion); v != "" {
					li.TargetProtocolVersion = v
				}
			}
		}
		r.Listeners = append(r.Listeners, li)
	}
	sort.Slice(r.Listeners, func(i, j int) bool {
		if r.Listeners[i].Port != r.Listeners[j].Port {
			return r.Listeners[i].Port < r.Listeners[j].Port
		}
		return r.Listeners[i].Protocol < r.Listeners[j].Protocol
	})
	if len(r.Addresses) == 0 {
		r.Problems = append(r.Problems, "no address")
	}
	for i := range r.Listeners {
		li := &r.Listeners[i]
		if len(r.Addresses) == 0 {
			continue
		}
		got, ip, err := probe(ctx, r, *li)
		if err != nil {
			li.Command = command(r, *li, r.Addresses[0].IP)
			r.Problems = append(r.Problems, fmt.Sprintf("listener %s:%d: %v", li.Protocol, li.Port, err))
			continue
		}
		li.Check, li.Address = got, ip
		li.Command = command(r, *li, ip)
	}
	r.Serving = len(r.Problems) == 0
	return r, nil
}

// command returns a shell command that reaches a listener from this
// machine through the load balancer address ip.
func command(lb LoadBalancer, l Listener, ip string) string {
	if ip == "" {
		return ""
	}
	host := ""
	if len(lb.Hosts) > 0 {
		host = exampleHost(lb.Hosts[0])
	}
	port := strconv.Itoa(int(l.Port))
	hostPort := net.JoinHostPort(ip, port)
	switch l.Protocol {
	case "HTTP":
		url := "http://" + ip
		if l.Port != 80 {
			url = "http://" + hostPort
		}
		if host != "" {
			return fmt.Sprintf("curl -H 'Host: %s' %s/", host, url)
		}
		return "curl " + url + "/"
	case "HTTPS":
		if l.TargetProtocolVersion == "GRPC" {
			if host != "" {
				return fmt.Sprintf("grpcurl -insecure -authority %s %s grpc.health.v1.Health/Check", host, hostPort)
			}
			return fmt.Sprintf("grpcurl -insecure %s grpc.health.v1.Health/Check", hostPort)
		}
		if host != "" {
			if l.Port != 443 {
				// curl would send Host: host:port, and an ALB compares
				// host-header values with the whole header, port included.
				return fmt.Sprintf("curl -k --resolve %s:%s:%s -H 'Host: %s' https://%s:%s/", host, port, ip, host, host, port)
			}
			return fmt.Sprintf("curl -k --resolve %s:%s:%s https://%s/", host, port, ip, host)
		}
		return "curl -k https://" + hostPort + "/"
	case "TLS":
		// An NLB terminates TLS whatever the SNI; the name is for the
		// certificate check curl -k skips, and for the echo's report.
		if host != "" {
			url := "https://" + host + "/"
			if l.Port != 443 {
				url = "https://" + net.JoinHostPort(host, port) + "/"
			}
			return fmt.Sprintf("curl -k --resolve %s:%s:%s %s", host, port, ip, url)
		}
		return "curl -k https://" + hostPort + "/"
	case "UDP":
		return fmt.Sprintf("echo hello | nc -u -w1 %s %s", ip, port)
	case "TCP_UDP":
		return fmt.Sprintf("curl http://%s/   # and UDP: echo hello | nc -u -w1 %s %s", hostPort, ip, port)
	}
	if tcpScheme(l.Port) == "https" {
		return "curl -k https://" + hostPort + "/"
	}
	return "curl http://" + hostPort + "/"
}

// surveyGateway reads a Gateway's state: skipped unless of one of
// elbow's GatewayClass controllers, pending until Programmed with an
// address; the hosts are its listeners' and its routes' hostnames
// (HTTPRoutes of an ALB, TLSRoutes of an NLB).
func surveyGateway(ctx context.Context, c client.Client, key types.NamespacedName, cd *candidate) error {
	var gw gwv1.Gateway
	if err := c.Get(ctx, key, &gw); err != nil {
		return err
	}
	var class gwv1.GatewayClass
	switch err := c.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); {
	case apierrors.IsNotFound(err):
		cd.skip = "GatewayClass " + string(gw.Spec.GatewayClassName) + " not found"
		return nil
	case err != nil:
		return err
	}
	switch class.Spec.ControllerName {
	case trgw.ControllerALB, trgw.ControllerNLB, trgw.ControllerAuto:
	default:
		cd.skip = "not a Gateway of elbow (GatewayClass " + class.Name + " is of controller " + string(class.Spec.ControllerName) + ", not " +
			string(trgw.ControllerALB) + ", " + string(trgw.ControllerNLB) + " or " + string(trgw.ControllerAuto) + ")"
		return nil
	}
	cd.status, cd.hostname = "", ""
	if p := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); p == nil || p.Status != metav1.ConditionTrue {
		if p != nil {
			cd.status = p.Reason + ": " + p.Message
		}
	} else {
		for _, a := range gw.Status.Addresses {
			if a.Type != nil && *a.Type == gwv1.HostnameAddressType {
				cd.hostname = a.Value
			}
		}
	}
	hosts := map[string]bool{}
	for _, l := range gw.Spec.Listeners {
		if l.Hostname != nil {
			hosts[string(*l.Hostname)] = true
		}
	}
	names := func(ns string, parents []gwv1.ParentReference, hostnames []gwv1.Hostname) {
		for _, p := range parents {
			pns := ns
			if p.Namespace != nil {
				pns = string(*p.Namespace)
			}
			if string(p.Name) == gw.Name && pns == gw.Namespace && (p.Kind == nil || *p.Kind == "Gateway") {
				for _, h := range hostnames {
					hosts[string(h)] = true
				}
			}
		}
	}
	var routes gwv1.HTTPRouteList
	if err := c.List(ctx, &routes); err != nil {
		return err
	}
	for _, r := range routes.Items {
		names(r.Namespace, r.Spec.ParentRefs, r.Spec.Hostnames)
	}
	var tlsRoutes gwv1.TLSRouteList
	if err := c.List(ctx, &tlsRoutes); err != nil && !meta.IsNoMatchError(err) {
		return err
	}
	for _, r := range tlsRoutes.Items {
		names(r.Namespace, r.Spec.ParentRefs, r.Spec.Hostnames)
	}
	cd.hosts = translate.SortedKeys(hosts)
	return nil
}

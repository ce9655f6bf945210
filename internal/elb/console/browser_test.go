package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/chromedp/chromedp"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the console's main view to this file (docs/console.png)")

// backend is an HTTP or TCP server at a VPC address of the local cloud,
// listening on the address it maps to.
type backend struct {
	vpc  netip.Addr
	port int32
	stop func()
}

// listenVPC listens on the host address a VPC address maps to.
func listenVPC(t *testing.T, vpc string) (*backend, net.Listener) {
	t.Helper()
	b := &backend{vpc: netip.MustParseAddr(vpc)}
	ln, err := net.Listen("tcp", net.JoinHostPort(vpcaddr.Default().ToHost(b.vpc).String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	b.port = int32(ln.Addr().(*net.TCPAddr).Port)
	return b, ln
}

func startHTTP(t *testing.T, vpc string, name string) *backend {
	t.Helper()
	b, ln := listenVPC(t, vpc)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s saw %s\n", name, r.URL.Path)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	b.stop = func() { srv.Close() }
	t.Cleanup(b.stop)
	return b
}

// startTCP starts a TCP echo server.
func startTCP(t *testing.T, vpc string) *backend {
	t.Helper()
	b, ln := listenVPC(t, vpc)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	b.stop = func() { ln.Close() }
	t.Cleanup(b.stop)
	return b
}

func check[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// shop is what the test builds through the SDK: an ALB with three rules
// and two target groups, tagged as the controller tags an Ingress's, and
// an NLB with a TCP target group.
type shop struct {
	alb, nlb           types.LoadBalancer
	api, web, tcp      string // target group ARNs
	api1, api2, web1   *backend
	echo               *backend
	albPort, nlbPort   int32
	listeners          []string
	rules              map[string]string // priority ("default" too) -> rule ARN
	targets            []string          // every target's key
	apiRule, redirRule string
}

func buildShop(t *testing.T, env *elbtest.Env) *shop {
	ctx := context.Background()
	s := &shop{rules: map[string]string{}}
	s.api1 = startHTTP(t, "10.0.9.11", "api-1")
	s.api2 = startHTTP(t, "10.0.25.12", "api-2")
	s.web1 = startHTTP(t, "10.0.9.13", "web-1")
	s.echo = startTCP(t, "10.0.25.14")

	tags := func(resource string) []types.Tag {
		return []types.Tag{
			{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("test")},
			{Key: aws.String("ingress.k8s.aws/stack"), Value: aws.String("shop/storefront")},
			{Key: aws.String("ingress.k8s.aws/resource"), Value: aws.String(resource)},
		}
	}
	tg := func(name string, proto types.ProtocolEnum, port int32, tg []types.Tag, bs ...*backend) string {
		out := check[*sdk.CreateTargetGroupOutput](t)(env.ELBv2.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{
			Name: aws.String(name), Protocol: proto, Port: aws.Int32(port), VpcId: aws.String(env.VpcID()), TargetType: types.TargetTypeEnumIp,
			HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2),
			HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2), Tags: tg}))
		arn := *out.TargetGroups[0].TargetGroupArn
		var ds []types.TargetDescription
		for _, b := range bs {
			ds = append(ds, types.TargetDescription{Id: aws.String(b.vpc.String()), Port: aws.Int32(b.port)})
			s.targets = append(s.targets, state.TargetKey(arn, b.vpc.String(), b.port))
		}
		check[*sdk.RegisterTargetsOutput](t)(env.ELBv2.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: ds}))
		return arn
	}
	s.api = tg("shop-api", types.ProtocolEnumHttp, 80, tags("shop/storefront-api:80"), s.api1, s.api2)
	s.web = tg("shop-web", types.ProtocolEnumHttp, 80, tags("shop/storefront-web:80"), s.web1)
	s.tcp = tg("shop-tcp", types.ProtocolEnumTcp, 7, nil, s.echo)

	s.alb = check[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("shop"), Subnets: env.PublicSubnets()[:2], Tags: tags("LoadBalancer")})).LoadBalancers[0]
	addr := *s.alb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress
	s.albPort = elbtest.FreePort(t, addr)
	check[*ec2sdk.AuthorizeSecurityGroupIngressOutput](t)(env.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(s.alb.SecurityGroups[0]), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(s.albPort), ToPort: aws.Int32(s.albPort), CidrIp: aws.String("0.0.0.0/0")}))
	l := check[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: s.alb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(s.albPort),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(s.web)}}})).Listeners[0]
	s.listeners = append(s.listeners, *l.ListenerArn)
	rule := func(prio int32, conds []types.RuleCondition, act types.Action) string {
		r := check[*sdk.CreateRuleOutput](t)(env.ELBv2.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(prio),
			Conditions: conds, Actions: []types.Action{act}, Tags: tags(fmt.Sprintf("%d:%d", s.albPort, prio))})).Rules[0]
		return *r.RuleArn
	}
	s.apiRule = rule(10, []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(s.api)})
	s.redirRule = rule(20, []types.RuleCondition{{Field: aws.String("host-header"), Values: []string{"old.example.com"}}},
		types.Action{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{
			StatusCode: types.RedirectActionStatusCodeEnumHttp301, Protocol: aws.String("HTTPS"), Host: aws.String("new.example.com"), Port: aws.String("443")}})
	rule(30, []types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{
		HttpHeaderName: aws.String("X-Env"), Values: []string{"maintenance"}}}},
		types.Action{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("back soon")}})
	for _, r := range check[*sdk.DescribeRulesOutput](t)(env.ELBv2.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn})).Rules {
		s.rules[*r.Priority] = *r.RuleArn
	}

	s.nlb = check[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("shop-tcp"), Type: types.LoadBalancerTypeEnumNetwork, Subnets: env.PublicSubnets()[:2],
		Tags: []types.Tag{{Key: aws.String("service.k8s.aws/stack"), Value: aws.String("shop/echo")}}})).LoadBalancers[0]
	s.nlbPort = elbtest.FreePort(t, *s.nlb.AvailabilityZones[1].LoadBalancerAddresses[0].IpAddress)
	nl := check[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: s.nlb.LoadBalancerArn,
		Protocol: types.ProtocolEnumTcp, Port: aws.Int32(s.nlbPort),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(s.tcp)}}})).Listeners[0]
	s.listeners = append(s.listeners, *nl.ListenerArn)
	return s
}

// traffic sends requests through the ALB (some answered 503 by a rule)
// and connections through the NLB at a rate that rises and falls, for the
// screenshot's charts. Bounded: about 20 a second for d.
func traffic(t *testing.T, s *shop, d time.Duration) {
	alb := fmt.Sprintf("http://%s", net.JoinHostPort(*s.alb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress, fmt.Sprint(s.albPort)))
	nlb := net.JoinHostPort(*s.nlb.AvailabilityZones[1].LoadBalancerAddresses[0].IpAddress, fmt.Sprint(s.nlbPort))
	c := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		phase := time.Since(start).Seconds()
		path := "/"
		if i%3 == 0 {
			path = "/api/orders"
		}
		req, _ := http.NewRequest("GET", alb+path, nil)
		if i%11 == 0 {
			req.Header.Set("X-Env", "maintenance")
		}
		if resp, err := c.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if i%4 == 0 {
			if conn, err := net.DialTimeout("tcp", nlb, 5*time.Second); err == nil {
				conn.Write([]byte("ping"))
				conn.Close()
			}
		}
		// 10 to 30 requests a second, in waves.
		wave := 20 + 10*math.Sin(phase/4)
		time.Sleep(time.Duration(float64(time.Second) / wave))
	}
}

// chromium finds Debian's Chromium (hack/deps.sh installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: hack/deps.sh (make deps) installs Debian's chromium")
	return ""
}

// browser starts a headless Chromium for the test and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// js quotes a string for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor polls a JavaScript predicate in the page for up to within.
func waitFor(t *testing.T, ctx context.Context, within time.Duration, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		t.Fatalf("%s (%s): %v\npage:\n%s", what, expr, err, dump)
	}
}

// fill sets form fields by id, as a user's typing would, and checks that
// they took the values.
func fill(t *testing.T, ctx context.Context, values map[string]string) {
	t.Helper()
	for id, v := range values {
		got := eval[string](t, ctx, fmt.Sprintf(`(() => { const e = document.getElementById(%s); e.value = %s; e.dispatchEvent(new Event("change")); return e.value; })()`, js(id), js(v)))
		if got != v {
			t.Fatalf("form field %s took %q, want %q", id, got, v)
		}
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestConsoleInBrowser opens the console of a local ELB with an ALB and an
// NLB in headless Chromium: every listener, rule and target is there, a
// target turns unhealthy on the page when its backend stops (no reload),
// the live charts move with traffic, and "try a request" names the rule,
// target group and target for three kinds of request.
func TestConsoleInBrowser(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{Console: true, Metrics: true})
	s := buildShop(t, env)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(env.ConsoleURL)); err != nil {
		t.Fatalf("open %s: %v", env.ConsoleURL, err)
	}
	// A mark that a reload would wipe.
	eval[bool](t, ctx, `(window.notReloaded = true)`)
	waitFor(t, ctx, 10*time.Second, "the event stream is live", `document.getElementById("conn").dataset.live === "true"`)

	// Every listener, rule and target, with their words and origins.
	for _, l := range s.listeners {
		waitFor(t, ctx, 10*time.Second, "listener "+l, fmt.Sprintf(`document.querySelector('[data-listener=%s]') !== null`, js(l)))
	}
	for prio, r := range s.rules {
		if !eval[bool](t, ctx, fmt.Sprintf(`document.querySelector('[data-rule=%s]') !== null`, js(r))) {
			t.Errorf("rule %s (priority %s) not shown", r, prio)
		}
	}
	rows := eval[[]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('[data-listener=%s] tr[data-rule]')].map(r => r.cells[0].textContent + " | " + r.cells[1].textContent + " | " + r.cells[3].textContent + " | " + r.cells[4].textContent)`, js(s.listeners[0])))
	want := []string{
		"10 | path is /api/* | forward to shop-api | Ingress shop/storefront · " + fmt.Sprintf("%d:10", s.albPort) + " · cluster test",
		"20 | host is old.example.com | redirect 301 to HTTPS://new.example.com:443/#{path}?#{query} | Ingress shop/storefront · " + fmt.Sprintf("%d:20", s.albPort) + " · cluster test",
		`30 | header X-Env is maintenance | respond 503 text/plain "back soon" | Ingress shop/storefront · ` + fmt.Sprintf("%d:30", s.albPort) + " · cluster test",
		"default | any request | forward to shop-web | ",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules in priority order:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-lb=%s] .origin').textContent`, js(*s.nlb.LoadBalancerArn))); got != "Service shop/echo" {
		t.Errorf("NLB origin %q, want Service shop/echo", got)
	}
	for _, k := range s.targets {
		waitFor(t, ctx, 20*time.Second, "target "+k+" healthy",
			fmt.Sprintf(`document.querySelector('[data-target=%s] [data-state]')?.dataset.state === "healthy"`, js(k)))
	}

	// Live rates: the ALB's requests chart moves with traffic.
	sel := fmt.Sprintf(`[data-series=%s][data-fig="0"] b`, js("lb:"+state.Dimension(*s.alb.LoadBalancerArn)))
	albURL := fmt.Sprintf("http://%s/", net.JoinHostPort(*s.alb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress, fmt.Sprint(s.albPort)))
	moved := false
	for i := 0; i < 200 && !moved; i++ {
		resp, err := http.Get(albURL)
		if err != nil {
			t.Fatalf("request through the ALB: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
		v := eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%s).textContent`, js(sel)))
		moved = v != "–" && v != "0"
	}
	if !moved {
		t.Errorf("the ALB's requests/s stayed at %q through 200 requests", eval[string](t, ctx, fmt.Sprintf(`document.querySelector(%s).textContent`, js(sel))))
	}

	// A stopped backend turns its target unhealthy, live.
	s.api2.stop()
	api2 := state.TargetKey(s.api, s.api2.vpc.String(), s.api2.port)
	waitFor(t, ctx, 30*time.Second, "api-2 unhealthy",
		fmt.Sprintf(`document.querySelector('[data-target=%s] [data-state]')?.dataset.state === "unhealthy"`, js(api2)))
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-target=%s] .reason').textContent`, js(api2))); !strings.Contains(got, "Target.FailedHealthChecks") {
		t.Errorf("api-2 reason %q, want Target.FailedHealthChecks", got)
	}
	if !eval[bool](t, ctx, `window.notReloaded === true`) {
		t.Error("the page reloaded")
	}
	// Its health-check history: the checks that failed and the change.
	// Live updates redraw the row: its button is found and clicked in one
	// turn of the page's script, so that the node clicked is the one found
	// (a click by node id failed when the row was redrawn in between).
	waitFor(t, ctx, 10*time.Second, "api-2's history button", fmt.Sprintf(`(() => {
		const b = document.querySelector('[data-target=%s] button');
		if (!b) return false;
		b.click();
		return true;
	})()`, js(api2)))
	waitFor(t, ctx, 10*time.Second, "api-2's history", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('tr[data-history=%s] tr')].map(r => r.textContent);
		return rows.some(r => r.includes("healthy → unhealthy") && r.includes("Target.FailedHealthChecks")) &&
			rows.some(r => r.includes("failed") && r.includes("refused")) && rows.some(r => r.includes("initial → healthy"));
	})()`, js(api2)))

	// Try a request: three shapes, three answers from the routing core.
	cases := []struct {
		name               string
		host, path, query  string
		headers            string
		rule, tg, target   string
		kind, status, body string
	}{
		{name: "path to the API: the only healthy API target", host: "www.example.com", path: "/api/orders",
			rule: "priority 10", tg: "shop-api", target: fmt.Sprintf("%s:%d", s.api1.vpc, s.api1.port), kind: "forward"},
		{name: "old host: redirected", host: "old.example.com", path: "/x", query: "y=1",
			rule: "priority 20", kind: "respond", status: "301 → https://new.example.com/x?y=1", body: "301 Moved Permanently"},
		{name: "header: fixed response", host: "www.example.com", path: "/", headers: "X-Env: maintenance",
			rule: "priority 30", kind: "respond", status: "503", body: "(text/plain) back soon"},
		{name: "anything else: default rule", host: "www.example.com", path: "/",
			rule: "default rule", tg: "shop-web", target: fmt.Sprintf("%s:%d", s.web1.vpc, s.web1.port), kind: "forward"},
	}
	for _, c := range cases {
		fill(t, ctx, map[string]string{"try-listener": s.listeners[0], "try-host": c.host, "try-path": c.path, "try-query": c.query, "try-headers": c.headers})
		eval[bool](t, ctx, `(document.getElementById("try-result").replaceChildren(), true)`)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#try-go"))); err != nil {
			t.Fatalf("%s: submit: %v", c.name, err)
		}
		waitFor(t, ctx, 10*time.Second, c.name+": result", `document.querySelector("#try-result dl, #try-error") !== null`)
		text := func(id string) string {
			return eval[string](t, ctx, fmt.Sprintf(`document.getElementById(%s)?.textContent ?? ""`, js(id)))
		}
		if e := text("try-error"); e != "" {
			t.Errorf("%s: error %q", c.name, e)
			continue
		}
		got := map[string]string{"rule": text("try-rule"), "tg": text("try-tg"), "kind": eval[string](t, ctx, `document.getElementById("try-kind").dataset.kind`),
			"status": text("try-status")}
		wantM := map[string]string{"rule": c.rule, "tg": c.tg, "kind": c.kind, "status": c.status}
		if b := text("try-body"); !strings.Contains(b, c.body) || (c.body == "") != (b == "") {
			t.Errorf("%s: body %q, want one with %q", c.name, b, c.body)
		}
		for k, w := range wantM {
			if got[k] != w {
				t.Errorf("%s: %s %q, want %q", c.name, k, got[k], w)
			}
		}
		if tgt := text("try-target"); !strings.HasPrefix(tgt, c.target) || (c.target == "") != (tgt == "") {
			t.Errorf("%s: target %q, want %q", c.name, tgt, c.target)
		}
		// The matched rule is marked in its listener's table.
		ruleARN := map[string]string{"priority 10": s.apiRule, "priority 20": s.redirRule, "priority 30": s.rules["30"], "default rule": s.rules["default"]}[c.rule]
		if !eval[bool](t, ctx, fmt.Sprintf(`document.querySelector('tr[data-rule=%s]').classList.contains("matched")`, js(ruleARN))) {
			t.Errorf("%s: rule %s not marked as matched", c.name, ruleARN)
		}
	}

	if *screenshot != "" {
		// Some traffic for the charts, then the first case again.
		traffic(t, s, 45*time.Second)
		fill(t, ctx, map[string]string{"try-host": "www.example.com", "try-path": "/api/orders", "try-query": "", "try-headers": ""})
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#try-go"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, 10*time.Second, "result", `document.getElementById("try-tg")?.textContent === "shop-api"`)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

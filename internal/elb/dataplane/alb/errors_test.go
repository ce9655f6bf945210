package alb_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// rawTarget is a target that runs a function on each accepted connection.
func (e *env) rawTarget(fn func(net.Conn)) netip.AddrPort {
	e.t.Helper()
	vpc := e.targetIP()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(e.addrs.ToHost(vpc), 0).String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return netip.AddrPortFrom(vpc, uint16(ln.Addr().(*net.TCPAddr).Port))
}

// readHead reads a request head from a target connection.
func readHead(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			return
		}
	}
}

// closedPort returns a VPC address and port where nothing listens.
func (e *env) closedPort() netip.AddrPort {
	vpc := e.targetIP()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(e.addrs.ToHost(vpc), 0).String())
	if err != nil {
		e.t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return netip.AddrPortFrom(vpc, uint16(port))
}

// TestELBErrors checks each status the load balancer generates, its
// ALB-style page and its access log line.
func TestELBErrors(t *testing.T) { bothLoops(t, testELBErrors) }

func testELBErrors(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	lb := e.newLB("internet-facing", map[string]string{
		"idle_timeout.timeout_seconds": "1",
		"access_logs.s3.enabled":       "true",
		"access_logs.s3.bucket":        "logs",
		"access_logs.s3.prefix":        "alb",
	})
	l, base := lb.listener("HTTP", fixed("404", "none"))
	tgFor := func(version string, targets ...netip.AddrPort) string {
		tg := e.targetGroup("HTTP", version, nil)
		if len(targets) > 0 {
			e.register(tg, targets...)
		}
		return tg
	}
	refused := tgFor("HTTP1", e.closedPort())
	reset := tgFor("HTTP1", e.rawTarget(func(c net.Conn) {
		readHead(c)
		c.(*net.TCPConn).SetLinger(0) // RST
	}))
	garbage := tgFor("HTTP1", e.rawTarget(func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "this is not HTTP\r\n\r\n")
	}))
	slow := tgFor("HTTP1", e.rawTarget(func(c net.Conn) {
		readHead(c)
		time.Sleep(3 * time.Second) // longer than the 1 s idle timeout
	}))
	empty := tgFor("HTTP1")
	h2 := tgFor("HTTP2", e.closedPort())
	lambda := e.targetGroup("", "", nil)
	e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.TargetGroups, lambda)
		if err != nil {
			return err
		}
		rec.TargetType = "lambda"
		return state.Put(tx, state.TargetGroups, rec)
	})
	for i, tg := range []string{refused, reset, garbage, slow, empty, h2, lambda} {
		e.rule(l, int32(i+1), []elbv2types.RuleCondition{cond("path-pattern", fmt.Sprintf("/%d", i+1))}, forward(tg))
	}
	e.rule(l, 20, []elbv2types.RuleCondition{cond("path-pattern", "/auth")}, []elbv2types.Action{{Type: elbv2types.ActionTypeEnumAuthenticateCognito, Order: aws.Int32(1),
		AuthenticateCognitoConfig: &elbv2types.AuthenticateCognitoActionConfig{UserPoolArn: aws.String("arn:aws:cognito-idp:us-east-1:000000000000:userpool/x")}}, {Type: elbv2types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("200")}}})
	c := client(e.clientAddr(0))
	cases := []struct {
		name, path string
		status     int
		title      string
	}{
		{"target refused the connection", "/1", 502, "502 Bad Gateway"},
		{"target reset the connection", "/2", 502, "502 Bad Gateway"},
		{"target answered garbage", "/3", 502, "502 Bad Gateway"},
		{"target timed out", "/4", 504, "504 Gateway Time-out"},
		{"no registered targets", "/5", 503, "503 Service Temporarily Unavailable"},
		{"HTTP/1.1 to an HTTP/2 target group", "/6", 464, "464"},
		{"Lambda target group", "/7", 502, "502 Bad Gateway"},
	}
	for _, tc := range cases {
		code, h, body := get(t, c, "GET", base+tc.path, nil)
		if code != tc.status || !strings.Contains(body, "<title>"+tc.title+"</title>") || h.Get("Server") != "awselb/2.0" || h.Get("Content-Type") != "text/html" {
			t.Errorf("%s: %d %q %q %q", tc.name, code, h.Get("Server"), h.Get("Content-Type"), body)
		}
	}
	if code, _, body := get(t, c, "GET", base+"/auth", nil); code != 501 || !strings.Contains(body, "authenticate-cognito") {
		t.Errorf("authenticate-cognito: %d %q", code, body)
	}
	// A request body over 1 MB to a Lambda target group: 413.
	req, _ := http.NewRequest("POST", base+"/7", strings.NewReader(strings.Repeat("x", 1<<20+1)))
	if resp, err := c.Do(req); err != nil {
		t.Errorf("413 request: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("large body to Lambda: %d, want 413", resp.StatusCode)
		}
	}
	// Malformed requests.
	addr := base[len("http://"):]
	src := e.clientAddr(0).String()
	raw := []struct {
		name, req string
		status    string
	}{
		{"malformed request", "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"URI too long", "GET /" + strings.Repeat("a", 17<<10) + " HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 414 Request-URI Too Large"},
		{"TRACE", "TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 405 Not Allowed"},
		{"too many X-Forwarded-For addresses", "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " + strings.Repeat("1.1.1.1,", 31) + "\r\n\r\n", "HTTP/1.1 463"},
		{"unsupported Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 Not Implemented"},
	}
	for _, tc := range raw {
		if resp := rawRequest(t, src, addr, tc.req); !strings.HasPrefix(resp, tc.status) {
			t.Errorf("%s: %q", tc.name, firstLine(resp))
		}
	}
	// 460: the client closes while its request waits for the target.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: e.clientAddr(2).AsSlice()}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /4?client=leaves HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(300 * time.Millisecond) // the request waits on the slow target
	conn.Close()
	// Every case has its access log line with the ELB status.
	for _, want := range []string{" 502 - ", " 504 - ", " 503 - ", " 464 - ", " 400 - ", " 414 - ", " 405 - ", " 463 - ", " 501 - ", " 413 - "} {
		waitLog(t, e, "logs/alb", func(line string) bool { return strings.Contains(line, want) })
	}
	waitLog(t, e, "logs/alb", func(line string) bool {
		return strings.Contains(line, " 460 - ") && strings.Contains(line, "client=leaves")
	})
	if n := e.metric("elbow_alb_HTTPCode_ELB_5XX_Count", nil); n < 6 {
		t.Errorf("HTTPCode_ELB_5XX_Count %v", n)
	}
	if n := e.metric("elbow_alb_HTTPCode_ELB_502_Count", nil); n < 4 {
		t.Errorf("HTTPCode_ELB_502_Count %v", n)
	}
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// waitLog polls the access logs under bucket/prefix for a line.
func waitLog(t *testing.T, e *env, under string, match func(string) bool) string {
	t.Helper()
	var found string
	eventually(t, "an access log line", func() bool {
		filepath.Walk(filepath.Join(e.logDir, under), func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || found != "" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" && match(l) {
					found = l
				}
			}
			return nil
		})
		return found != ""
	})
	return found
}

// TestSecurityGroups: the load balancer's security groups decide which
// clients may connect to a listener port.
func TestSecurityGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	allowed, refused := e.clientAddr(0), e.clientAddr(1)
	lb := e.newLB("internet-facing", nil, "sg-alb")
	l, base := lb.listener("HTTP", fixed("200", "ok"))
	_ = l
	port := base[strings.LastIndex(base, ":")+1:]
	var p int32
	fmt.Sscan(port, &p)
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.SecurityGroups, &state.SecurityGroup{ID: "sg-alb", VpcID: "vpc-1", Rules: []state.SGRule{
			{ID: "sgr-1", Protocol: "tcp", FromPort: p, ToPort: p, CIDRIPv4: allowed.String() + "/32"},
		}})
	})
	if code, _, body := get(t, client(allowed), "GET", base+"/", nil); code != 200 || body != "ok" {
		t.Errorf("allowed client: %d %q", code, body)
	}
	_, err := client(refused).Get(base + "/")
	if err == nil {
		t.Fatalf("client outside the security group's CIDR was served")
	}
	eventually(t, "RejectedConnectionCount", func() bool { return e.metric("elbow_alb_RejectedConnectionCount", nil) >= 1 })
	// Opening the group to the second client takes effect at once.
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.SecurityGroups, &state.SecurityGroup{ID: "sg-alb", VpcID: "vpc-1", Rules: []state.SGRule{
			{ID: "sgr-1", Protocol: "tcp", FromPort: p, ToPort: p, CIDRIPv4: allowed.String() + "/32"},
			{ID: "sgr-2", Protocol: "-1", CIDRIPv4: refused.String() + "/32"},
		}})
	})
	if code, _, _ := get(t, client(refused), "GET", base+"/", nil); code != 200 {
		t.Errorf("client admitted by the new rule: %d", code)
	}
}

package alb_test

import (
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawRequest sends bytes on a new connection from src and returns the
// response head and body.
func rawRequest(t *testing.T, src, addr, req string) string {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// written while the answer is read: the load balancer may answer and
	// close before it has read all of a long request, cutting the write
	go io.WriteString(c, req)
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestForwardedHeaders(t *testing.T) { bothLoops(t, testForwardedHeaders) }

func testForwardedHeaders(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	a := e.startBackend("A", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	port := base[strings.LastIndex(base, ":")+1:]
	src := e.clientAddr(0)
	c := client(src)

	// Defaults: XFF appended, proto and port set, a trace id added.
	ec := getEcho(t, c, base+"/", map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "spoofed", "X-Forwarded-Port": "1"})
	if got := ec.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.9, "+src.String() {
		t.Errorf("append: X-Forwarded-For %q", got)
	}
	if ec.Headers["X-Forwarded-Proto"][0] != "http" || ec.Headers["X-Forwarded-Port"][0] != port {
		t.Errorf("X-Forwarded-Proto %q, X-Forwarded-Port %q (listener port %s)", ec.Headers["X-Forwarded-Proto"], ec.Headers["X-Forwarded-Port"], port)
	}
	if tr := ec.Headers["X-Amzn-Trace-Id"]; len(tr) != 1 || !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(tr[0]) {
		t.Errorf("trace header %q", tr)
	}
	// The target sees the load balancer node's VPC address (10.0.x.4) on
	// its host address.
	if host, _, _ := net.SplitHostPort(ec.Remote); host != e.addrs.ToHost(lb.node).String() {
		t.Errorf("target saw the request from %s, want the node's address %s", ec.Remote, e.addrs.ToHost(lb.node))
	}
	// Trace header update rules.
	root := "Root=1-67891233-abcdef012345678912345678"
	ec = getEcho(t, c, base+"/", map[string]string{"X-Amzn-Trace-Id": root + ";CalledFrom=app"})
	if tr := ec.Headers["X-Amzn-Trace-Id"][0]; !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};` + root + `;CalledFrom=app$`).MatchString(tr) {
		t.Errorf("Root present: trace header %q", tr)
	}
	ec = getEcho(t, c, base+"/", map[string]string{"X-Amzn-Trace-Id": "Self=1-11111111-111111111111111111111111;" + root})
	if tr := ec.Headers["X-Amzn-Trace-Id"][0]; strings.Contains(tr, "1-11111111-") || !strings.HasSuffix(tr, ";"+root) || !strings.HasPrefix(tr, "Self=1-") {
		t.Errorf("Self present: trace header %q", tr)
	}
	// Host: a non-default listener port is added to a host without one.
	ec = getEcho(t, c, base+"/", map[string]string{"Host": "www.example.com"})
	if ec.Host != "www.example.com:"+port {
		t.Errorf("Host %q, want www.example.com:%s", ec.Host, port)
	}
	ec = getEcho(t, c, base+"/", map[string]string{"Host": "www.example.com:1234"})
	if ec.Host != "www.example.com:1234" {
		t.Errorf("Host with a port changed to %q", ec.Host)
	}
	// Hop-by-hop headers and the ones Connection names are not forwarded;
	// header names outside [-A-Za-z0-9] are, by default.
	resp := rawRequest(t, src.String(), base[len("http://"):], "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX_Under: u\r\n\r\n")
	if strings.Contains(resp, "X-Secret") || strings.Contains(resp, "Keep-Alive") || !strings.Contains(resp, `"X_under":["u"]`) {
		t.Errorf("hop-by-hop / invalid names: %s", resp)
	}

	// preserve mode and client port; preserve_host_header; invalid
	// header fields dropped.
	lb.setAttrs(map[string]string{
		"routing.http.xff_header_processing.mode":         "preserve",
		"routing.http.preserve_host_header.enabled":       "true",
		"routing.http.drop_invalid_header_fields.enabled": "true",
	})
	ec = getEcho(t, c, base+"/", map[string]string{"X-Forwarded-For": "203.0.113.9", "Host": "www.example.com"})
	if got := ec.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.9" {
		t.Errorf("preserve: X-Forwarded-For %q", got)
	}
	if ec.Host != "www.example.com" {
		t.Errorf("preserved Host %q", ec.Host)
	}
	resp = rawRequest(t, src.String(), base[len("http://"):], "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX_Under: u\r\nX-Ok: o\r\n\r\n")
	if strings.Contains(resp, "X_under") || !strings.Contains(resp, `"X-Ok":["o"]`) {
		t.Errorf("drop_invalid_header_fields: %s", resp)
	}
	lb.setAttrs(map[string]string{"routing.http.xff_header_processing.mode": "remove"})
	ec = getEcho(t, c, base+"/", map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if got, ok := ec.Headers["X-Forwarded-For"]; ok {
		t.Errorf("remove: X-Forwarded-For %q", got)
	}
	lb.setAttrs(map[string]string{"routing.http.xff_header_processing.mode": "append", "routing.http.xff_client_port.enabled": "true"})
	resp = rawRequest(t, src.String(), base[len("http://"):], "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if !regexp.MustCompile(`"X-Forwarded-For":\["` + regexp.QuoteMeta(src.String()) + `:[0-9]+"\]`).MatchString(resp) {
		t.Errorf("client port: %s", resp)
	}
}

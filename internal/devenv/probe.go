package devenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// probeTimeout bounds one probe.
const probeTimeout = 3 * time.Second

// probe sends one real request through a listener, as a client would
// (HTTP for HTTP and TCP listeners, whose targets here are echo servers;
// HTTPS for HTTPS and TLS; a gRPC health check for HTTPS listeners in
// front of GRPC target groups; a datagram for UDP), and says what came
// back and through which of the load balancer's addresses. The addresses
// are tried in zone order and the first that answers wins: a zone whose
// targets are all missing or unhealthy does not serve (with cross-zone
// load balancing off, an NLB's address forwards only to its zone's
// targets; AWS takes such a zone's address out of DNS). An error means no
// address serves yet: no answer, or an answer of the load balancer's own
// 5xx.
func probe(ctx context.Context, lb LoadBalancer, l Listener) (got, ip string, err error) {
	if len(lb.Addresses) == 0 {
		return "", "", fmt.Errorf("no address")
	}
	var errs []string
	for _, a := range lb.Addresses {
		got, err := probeAddr(ctx, lb, l, net.JoinHostPort(a.IP, strconv.Itoa(int(l.Port))))
		if err == nil {
			return got, a.IP, nil
		}
		if ctx.Err() != nil {
			return "", "", err
		}
		errs = append(errs, fmt.Sprintf("%s (%s): %v", a.IP, a.Zone, err))
	}
	return "", "", errors.New(strings.Join(errs, "; "))
}

// probeAddr probes a listener through one address.
func probeAddr(ctx context.Context, lb LoadBalancer, l Listener, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	host := ""
	if len(lb.Hosts) > 0 {
		host = exampleHost(lb.Hosts[0])
	}
	switch l.Protocol {
	case "UDP":
		return probeUDP(ctx, addr)
	case "TCP_UDP":
		if _, err := probeUDP(ctx, addr); err != nil {
			return "", err
		}
		s, err := probeHTTP(ctx, "http", addr, host)
		if err != nil {
			return "", err
		}
		return s + "; UDP echoed", nil
	case "HTTPS":
		if l.TargetProtocolVersion == "GRPC" {
			return probeGRPC(ctx, addr, host)
		}
		return probeHTTP(ctx, "https", addr, host)
	case "TLS":
		return probeHTTP(ctx, "https", addr, host)
	}
	return probeHTTP(ctx, tcpScheme(l.Port), addr, host)
}

// tcpScheme is the scheme a client most likely speaks through a TCP
// listener: https on the usual TLS ports (passed through to the target),
// else http.
func tcpScheme(port int32) string {
	if port == 443 || port == 8443 {
		return "https"
	}
	return "http"
}

// exampleHost turns a host rule ("*.example.com") into a name it matches.
func exampleHost(h string) string {
	if len(h) > 2 && h[:2] == "*." {
		return "www." + h[2:]
	}
	return h
}

// echoAnswer is the part of the echo server's JSON the probe reports.
type echoAnswer struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

func probeHTTP(ctx context.Context, scheme, addr, host string) (string, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: host}, //nolint:gosec // local certificates
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 500 {
		return "", fmt.Errorf("GET / answered %s", resp.Status)
	}
	out := "GET / answered " + resp.Status
	var a echoAnswer
	if json.Unmarshal(body, &a) == nil && a.Pod != "" {
		out += " from pod " + a.Namespace + "/" + a.Pod
	} else if loc := resp.Header.Get("Location"); loc != "" {
		out += " (to " + loc + ")"
	}
	return out, nil
}

func probeGRPC(ctx context.Context, addr, host string) (string, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, ServerName: host}))} //nolint:gosec // local certificates
	if host != "" {
		opts = append(opts, grpc.WithAuthority(host))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return "", fmt.Errorf("grpc.health.v1.Health/Check: %w", err)
	}
	return "grpc.health.v1.Health/Check answered " + resp.GetStatus().String(), nil
}

func probeUDP(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	msg := []byte("elbow dev probe")
	buf := make([]byte, 256)
	// Datagrams may be lost: send a few times.
	for i := 0; i < 3; i++ {
		if _, err := c.Write(msg); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(probeTimeout / 3))
		n, err := c.Read(buf)
		if err == nil && bytes.Equal(buf[:n], msg) {
			return "a datagram came back", nil
		}
	}
	return "", fmt.Errorf("no datagram came back")
}

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// echo is what the dev environment's echo server answers to HTTP.
type echo struct {
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Method    string              `json:"method"`
	Proto     string              `json:"proto"`
	Headers   map[string][]string `json:"headers"`
	Namespace string              `json:"namespace"`
	Pod       string              `json:"pod"`
	Node      string              `json:"node"`
	Source    string              `json:"source"`
	SourceVPC string              `json:"sourceVPC"`
	TLS       *struct {
		Version    string `json:"version"`
		ServerName string `json:"serverName"`
	} `json:"tls"`
	ProxyProtocol *struct {
		Version int    `json:"version"`
		Source  string `json:"source"`
	} `json:"proxyProtocol"`
}

// header returns the first value of a header in the echo (any case).
func (e echo) header(name string) string {
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// sourceIP returns the address the echo server saw the connection from.
func (e echo) sourceIP() string {
	h, _, err := net.SplitHostPort(e.Source)
	if err != nil {
		return e.Source
	}
	return h
}

// client is an HTTP client that dials from a chosen local address, sends
// no keep-alives, accepts any certificate and does not follow redirects.
type client struct {
	local    string // local IP to bind, empty: any
	tlsMax   uint16
	header   http.Header // sent with every request
	lastCert *tls.ConnectionState
}

func (c *client) do(ctx context.Context, method, url, host string) (*http.Response, []byte, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	if c.local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.local)}
	}
	sni := host
	if h, _, err := net.SplitHostPort(sni); err == nil {
		sni = h
	}
	tr := &http.Transport{
		DialContext:       d.DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: sni, MaxVersion: c.tlsMax}, //nolint:gosec // local certificates
		DisableKeepAlives: true,
		ForceAttemptHTTP2: false,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, nil, err
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.lastCert = resp.TLS
	return resp, body, err
}

// get fetches url (with Host host) and decodes the echo's answer; any
// status but 200 is an error.
func (c *client) get(ctx context.Context, url, host string) (echo, error) {
	resp, body, err := c.do(ctx, http.MethodGet, url, host)
	if err != nil {
		return echo{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return echo{}, fmt.Errorf("GET %s (Host %s): %s %s", url, host, resp.Status, body)
	}
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		return echo{}, fmt.Errorf("GET %s: not the echo's JSON: %v: %s", url, err, body)
	}
	return e, nil
}

// tcpEcho sends msg on a new TCP connection and reads back as many bytes.
func tcpEcho(addr, local string, msg []byte) ([]byte, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	return buf, err
}

// udpEcho sends msg in a datagram and waits for the reply.
func udpEcho(addr string, msg []byte) ([]byte, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i := 0; i < 3; i++ {
		if _, err := c.Write(msg); err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return buf[:n], nil
		}
	}
	return nil, errNoAnswer
}

// tlsHandshake connects with TLS and returns the connection state.
func tlsHandshake(addr, serverName string, maxVersion uint16) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: serverName, MaxVersion: maxVersion}) //nolint:gosec // local certificates
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// resolveA asks a DNS server for a name's A records.
func resolveA(server, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	in, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, server)
	if err != nil {
		return nil, fmt.Errorf("DNS %s at %s: %w", name, server, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("DNS %s at %s: %s", name, server, dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

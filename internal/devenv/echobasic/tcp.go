package echobasic

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// TCPGreeting is the first line the TCP server writes on every connection.
const TCPGreeting = "Gateway API Test TCP Server\n"

// TCPAnswer is the JSON line the TCP server answers TEST with.
type TCPAnswer struct {
	Namespace string        `json:"namespace"`
	Ingress   string        `json:"ingress"`
	Service   string        `json:"service"`
	Pod       string        `json:"pod"`
	TCPPort   string        `json:"tcpport"`
	TLSPort   string        `json:"tlsport,omitempty"`
	IsTLS     bool          `json:"isTLS"`
	TLS       *TCPTLSAnswer `json:"tls,omitempty"`
}

// TCPTLSAnswer is the TLS a TCP answer describes (versions as
// crypto/tls.VersionName writes them: "TLS 1.3").
type TCPTLSAnswer struct {
	Version            string `json:"version"`
	ServerName         string `json:"serverName"`
	NegotiatedProtocol string `json:"negotiatedProtocol,omitempty"`
	Curves             string `json:"curves,omitempty"`
	CipherSuite        string `json:"cipherSuite"`
}

// tcpEcho is the TCP mode's state.
type tcpEcho struct {
	answer TCPAnswer // without the per-connection fields
}

func startTCP(p *container.Process, c container.Container) error {
	pp, err := ports(c, "TCP_PORT", "TLS_PORT")
	if err != nil {
		return err
	}
	pc := contextOf(c)
	e := &tcpEcho{answer: TCPAnswer{
		Namespace: pc.Namespace, Ingress: pc.Ingress, Service: pc.Service, Pod: pc.Pod,
		TCPPort: strconv.Itoa(pp.plain), TLSPort: strconv.Itoa(pp.tls),
	}}
	serve := func(port int, config *tls.Config) error {
		ln, err := c.Listen(p.Context(), port)
		if err != nil {
			return err
		}
		p.OnStop(func() { ln.Close() })
		p.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						c.Logger().Warn("echo-basic TCP server stopped", "port", port, "error", err)
					}
					return
				}
				if config != nil {
					conn = tls.Server(conn, config)
				}
				untrack := p.Track(conn)
				p.Go(func() {
					defer untrack()
					e.serve(p.Context(), conn)
				})
			}
		})
		return nil
	}
	if err := serve(pp.plain, nil); err != nil {
		return err
	}
	if pp.tlsOn {
		return serve(pp.tls, &tls.Config{Certificates: []tls.Certificate{pp.cert}, MinVersion: tls.VersionTLS12})
	}
	return nil
}

// serve runs the line protocol on one connection: the greeting, then
// PING → PONG, IS_TLS → true or false, TEST → the JSON answer; other lines
// are ignored.
func (e *tcpEcho) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	a := e.answer
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			return
		}
		st := tc.ConnectionState()
		a.IsTLS = true
		a.TLS = &TCPTLSAnswer{
			Version: tls.VersionName(st.Version), ServerName: st.ServerName,
			NegotiatedProtocol: st.NegotiatedProtocol, Curves: st.CurveID.String(),
			CipherSuite: tls.CipherSuiteName(st.CipherSuite),
		}
	}
	if _, err := fmt.Fprint(conn, TCPGreeting); err != nil {
		return
	}
	test, err := json.Marshal(a)
	if err != nil {
		return
	}
	lines := bufio.NewScanner(conn)
	for lines.Scan() {
		var out string
		switch lines.Text() {
		case "TEST":
			out = string(test) + "\n"
		case "IS_TLS":
			out = strconv.FormatBool(a.IsTLS) + "\n"
		case "PING":
			out = "PONG\n"
		default:
			continue
		}
		if _, err := fmt.Fprint(conn, out); err != nil {
			return
		}
	}
}

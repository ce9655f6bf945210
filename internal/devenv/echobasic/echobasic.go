// Package echobasic plays the Gateway API conformance suite's echo-basic
// image (registry.k8s.io/gateway-api/echo-basic) for `elbow dev`: wherever
// a conformance test reads what the backend did, the answer is the one
// echo-basic gives. As the image does, it picks what to serve from its
// environment:
//
//   - GRPC_ECHO_SERVER set: the gRPC service
//     gateway_api_conformance.echo_basic.grpcecho.GrpcEcho in plaintext on
//     HTTP_PORT (3000) and, with TLS_SERVER_CERT and TLS_SERVER_PRIV_KEY,
//     over TLS on HTTPS_PORT (8443);
//   - TCP_ECHO_SERVER set: the line protocol of its TCP server (a greeting,
//     PING, IS_TLS, TEST) on TCP_PORT (3000) and, with TLS_SERVER_CERT and
//     TLS_SERVER_PRIV_KEY, over TLS on TLS_PORT (8443);
//   - UDP_ECHO_SERVER set: a JSON answer to each datagram on UDP_PORT
//     (8080);
//   - else HTTP: the JSON echo on HTTP_PORT (3000), h2c on H2C_PORT (3001)
//     and, with TLS_SERVER_CERT and TLS_SERVER_PRIVKEY, HTTPS on
//     HTTPS_PORT (8443), checking client certificates against
//     TLS_CLIENT_CACERTS when set.
//
// Every answer names the pod from NAMESPACE, INGRESS_NAME, SERVICE_NAME
// and POD_NAME. Where the image would exit (a port that is not a number, a
// certificate it cannot read), Start returns the error instead.
package echobasic

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// The environment variables that choose what echo-basic serves.
const (
	EnvGRPC = "GRPC_ECHO_SERVER"
	EnvTCP  = "TCP_ECHO_SERVER"
	EnvUDP  = "UDP_ECHO_SERVER"
)

// The image's default ports (the TCP mode's TCP_PORT and TLS_PORT default
// to DefaultHTTPPort and DefaultHTTPSPort too).
const (
	DefaultHTTPPort  = 3000
	DefaultH2CPort   = 3001
	DefaultHTTPSPort = 8443
	DefaultUDPPort   = 8080
)

// IsImage reports whether an image reference names echo-basic (any
// registry, tag or digest): its repository's last path element is
// echo-basic.
func IsImage(image string) bool { return container.ImageName(image) == "echo-basic" }

// Start serves what the container's environment asks for, on the
// container's address, until ctx ends or the process is aborted. It
// returns once every socket listens, or the first error (nothing then
// stays open).
func Start(ctx context.Context, c container.Container) (*container.Process, error) {
	p := container.NewProcess(ctx)
	var err error
	switch {
	case c.Getenv(EnvGRPC) != "":
		err = startGRPC(p, c)
	case c.Getenv(EnvTCP) != "":
		err = startTCP(p, c)
	case c.Getenv(EnvUDP) != "":
		err = startUDP(p, c)
	default:
		err = startHTTP(p, c)
	}
	if err != nil {
		p.Abort()
		return nil, fmt.Errorf("echo-basic: %w", err)
	}
	return p, nil
}

// podContext is the pod the answers name, from the environment.
type podContext struct {
	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`
}

func contextOf(c container.Container) podContext {
	return podContext{
		Namespace: c.Getenv("NAMESPACE"),
		Ingress:   c.Getenv("INGRESS_NAME"),
		Service:   c.Getenv("SERVICE_NAME"),
		Pod:       c.Getenv("POD_NAME"),
	}
}

// keyPair loads the certificate and key whose container paths the
// variables certVar and keyVar hold; ok is false when either is unset
// (the image serves no TLS then).
func keyPair(c container.Container, certVar, keyVar string) (cert tls.Certificate, ok bool, err error) {
	certPath, keyPath := c.Getenv(certVar), c.Getenv(keyVar)
	if certPath == "" || keyPath == "" {
		return tls.Certificate{}, false, nil
	}
	certPEM, err := c.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("%s: %w", certVar, err)
	}
	keyPEM, err := c.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("%s: %w", keyVar, err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("%s and %s: %w", certVar, keyVar, err)
	}
	return cert, true, nil
}

// portPair is a mode's plain and TLS ports, and the key pair its TLS port
// serves (tlsOn false: none, the TLS port is not served).
type portPair struct {
	plain, tls int
	cert       tls.Certificate
	tlsOn      bool
}

// ports reads the gRPC and TCP modes' ports: plainVar (3000 by default),
// tlsVar (8443) and the key pair of TLS_SERVER_CERT and
// TLS_SERVER_PRIV_KEY.
func ports(c container.Container, plainVar, tlsVar string) (portPair, error) {
	var pp portPair
	var err error
	if pp.plain, err = container.Port(c, plainVar, DefaultHTTPPort); err != nil {
		return pp, err
	}
	if pp.tls, err = container.Port(c, tlsVar, DefaultHTTPSPort); err != nil {
		return pp, err
	}
	pp.cert, pp.tlsOn, err = keyPair(c, "TLS_SERVER_CERT", "TLS_SERVER_PRIV_KEY")
	return pp, err
}

// certPool loads the PEM certificates at the container path that the
// variable name holds.
func certPool(c container.Container, name string) (*x509.CertPool, error) {
	path := c.Getenv(name)
	b, err := c.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", name, path)
	}
	return pool, nil
}

// tlsVersionName is the TLS version as the HTTP and gRPC answers write it.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1.0"
	}
	return ""
}

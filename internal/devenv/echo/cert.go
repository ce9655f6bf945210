package echo

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"time"

	"github.com/elbowlb/elbow/internal/pki"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// selfSigned makes the pod's TLS certificate: ECDSA P-256, valid for a
// year, for the pod's name, localhost, the pod IP and its host address.
func selfSigned(id Identity, addrs vpcaddr.Map) (tls.Certificate, error) {
	name := id.Pod
	if name == "" {
		name = "echo"
	}
	hosts := []string{name, "localhost", "127.0.0.1"}
	if id.PodIP.IsValid() {
		hosts = append(hosts, id.PodIP.String(), addrs.ToHost(id.PodIP).String())
	}
	c, err := pki.SelfSigned(pki.Request{
		Subject:   pkix.Name{CommonName: name, Organization: []string{"elbow dev echo"}},
		Hosts:     hosts,
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().Add(365 * 24 * time.Hour),
		Usage:     pki.Server,
	})
	if err != nil {
		return tls.Certificate{}, err
	}
	return c.TLS(), nil
}

// toMap turns a value into the map its JSON is.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

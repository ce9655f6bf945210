package sslpolicy

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/pki"
)

var (
	certsOnce sync.Once
	certs     []tls.Certificate
)

// testCerts returns an ECDSA and an RSA certificate, so that every cipher's
// authentication is possible.
func testCerts(t *testing.T) []tls.Certificate {
	t.Helper()
	certsOnce.Do(func() {
		for _, alg := range []string{pki.P256, pki.RSA2048} {
			c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: "policy.test"}, Hosts: []string{"policy.test"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyAlgorithm: alg})
			if err != nil {
				panic(err)
			}
			certs = append(certs, c.TLS())
		}
	})
	return certs
}

// serve runs a TLS server with cfg on loopback and returns its address. It
// answers every completed handshake with "ok".
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				io.WriteString(c, "ok")
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake connects with a client limited to versions [minV, maxV] and,
// when suites is not nil, to those TLS 1.0–1.2 suites.
func handshake(addr string, minV, maxV uint16, suites []uint16) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		InsecureSkipVerify: true, // self-signed test certificate
		ServerName:         "policy.test",
		MinVersion:         minV,
		MaxVersion:         maxV,
		CipherSuites:       suites,
	})
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		return tls.ConnectionState{}, err
	}
	if string(buf) != "ok" {
		return tls.ConnectionState{}, errors.New("unexpected reply " + string(buf))
	}
	return c.ConnectionState(), nil
}

func TestEveryPolicyHandshakes(t *testing.T) {
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, p.TLSConfig(&tls.Config{Certificates: testCerts(t)}))
			minV, maxV := p.Versions()
			// Every protocol version of the policy succeeds and is the
			// one negotiated.
			for _, name := range p.Protocols {
				v := versionOf[name]
				var suites []uint16
				if v < tls.VersionTLS13 {
					suites = p.GoCipherSuites()
				}
				st, err := handshake(addr, v, v, suites)
				if err != nil {
					t.Errorf("%s client: %v", name, err)
					continue
				}
				if st.Version != v {
					t.Errorf("%s client negotiated %s", name, tls.VersionName(st.Version))
				}
				if v < tls.VersionTLS13 && !slices.Contains(p.GoCipherSuites(), st.CipherSuite) {
					t.Errorf("%s client negotiated %s, not in the policy", name, tls.CipherSuiteName(st.CipherSuite))
				}
			}
			// A client whose versions all lie below the policy is refused.
			if minV > tls.VersionTLS10 {
				below := minV - 1
				if _, err := handshake(addr, tls.VersionTLS10, below, allGoSuites()); err == nil {
					t.Errorf("client of %s and below was accepted", tls.VersionName(below))
				}
			}
			// A client whose versions all lie above the policy is refused.
			if maxV < tls.VersionTLS13 {
				if _, err := handshake(addr, maxV+1, tls.VersionTLS13, nil); err == nil {
					t.Errorf("client of %s and above was accepted", tls.VersionName(maxV+1))
				}
			}
		})
	}
}

func allGoSuites() []uint16 {
	var out []uint16
	for _, s := range tls.CipherSuites() {
		out = append(out, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		out = append(out, s.ID)
	}
	return out
}

func TestCipherRestriction(t *testing.T) {
	rsaCBC := []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	des := []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
	cases := []struct {
		policy string
		suites []uint16
		ok     bool
	}{
		{"ELBSecurityPolicy-2016-08", rsaCBC, true},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", rsaCBC, false},
		{"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", rsaCBC, false},
		{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", rsaCBC, true},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", rsaCBC, false},
		{"ELBSecurityPolicy-TLS-1-0-2015-04", des, true},
		{"ELBSecurityPolicy-2016-08", des, false},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			t.Parallel()
			p, ok := Lookup(c.policy)
			if !ok {
				t.Fatalf("policy %s missing", c.policy)
			}
			addr := serve(t, p.TLSConfig(&tls.Config{Certificates: testCerts(t)}))
			_, err := handshake(addr, tls.VersionTLS12, tls.VersionTLS12, c.suites)
			if (err == nil) != c.ok {
				t.Errorf("client offering %s: err=%v, want success=%v", tls.CipherSuiteName(c.suites[0]), err, c.ok)
			}
		})
	}
}

func TestTable(t *testing.T) {
	names := Names()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("policy %s listed twice", n)
		}
		seen[n] = true
	}
	required := []string{
		"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-0-2015-04", "ELBSecurityPolicy-TLS-1-1-2017-01",
		"ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06", "ELBSecurityPolicy-FS-2018-06",
		"ELBSecurityPolicy-FS-1-1-2019-08", "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
		"ELBSecurityPolicy-FS-1-2-Res-2020-10", "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06",
		"ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", Default, ConsoleDefault,
	}
	for _, n := range required {
		if !seen[n] {
			t.Errorf("policy %s missing", n)
		}
	}
	for _, p := range All() {
		for i, c := range p.Ciphers {
			if c.Priority != int32(i+1) {
				t.Errorf("%s: cipher %s has priority %d at position %d", p.Name, c.Name, c.Priority, i+1)
			}
			if _, ok := goSuite[c.Name]; !ok && !strings.HasPrefix(c.Name, "TLS_") {
				t.Errorf("%s: cipher %s has no Go mapping entry", p.Name, c.Name)
			}
		}
		hasTLS13 := slices.Contains(p.Protocols, TLSv13)
		hasTLS13Suite := slices.ContainsFunc(p.Ciphers, func(c Cipher) bool { return strings.HasPrefix(c.Name, "TLS_") })
		if hasTLS13 != hasTLS13Suite {
			t.Errorf("%s: TLS 1.3 protocol %v but TLS 1.3 suites %v", p.Name, hasTLS13, hasTLS13Suite)
		}
		if p.FIPS() && slices.ContainsFunc(p.Ciphers, func(c Cipher) bool { return strings.Contains(c.Name, "CHACHA") }) {
			t.Errorf("%s: FIPS policy lists ChaCha20", p.Name)
		}
	}
	// Lookup hands out copies.
	p, _ := Lookup(Default)
	p.Ciphers[0].Name = "changed"
	if q, _ := Lookup(Default); q.Ciphers[0].Name == "changed" {
		t.Error("Lookup returned the table's own policy")
	}
	if _, ok := Lookup("elbsecuritypolicy-2016-08"); ok {
		t.Error("lookup is case-insensitive; ELBv2 names are case-sensitive")
	}
}

func TestGoMapping(t *testing.T) {
	p, _ := Lookup("ELBSecurityPolicy-TLS-1-2-2017-01")
	want := []string{"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "AES256-SHA256"}
	if got := p.Unsupported(); !slices.Equal(got, want) {
		t.Errorf("Unsupported = %v, want %v", got, want)
	}
	if got := len(p.GoCipherSuites()); got != len(p.Ciphers)-len(want) {
		t.Errorf("GoCipherSuites has %d suites, want %d", got, len(p.Ciphers)-len(want))
	}
	cfg := p.TLSConfig(&tls.Config{NextProtos: []string{"h2"}})
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{"h2"}) {
		t.Errorf("TLSConfig = min %x max %x protos %v", cfg.MinVersion, cfg.MaxVersion, cfg.NextProtos)
	}
	pq, _ := Lookup(ConsoleDefault)
	if !slices.Contains(pq.CurvePreferences(), tls.X25519MLKEM768) {
		t.Errorf("%s offers no hybrid ML-KEM group", ConsoleDefault)
	}
	classicP, _ := Lookup("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
	if slices.Contains(classicP.CurvePreferences(), tls.X25519MLKEM768) {
		t.Errorf("non-PQ policy offers ML-KEM")
	}
	for _, c := range []struct{ in, want string }{
		{"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-2016-08"},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-0-2021-06"},
		{"ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04"},
	} {
		if got := BackendPolicy(c.in); got != c.want {
			t.Errorf("BackendPolicy(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestPostQuantumHandshake(t *testing.T) {
	p, _ := Lookup(ConsoleDefault)
	addr := serve(t, p.TLSConfig(&tls.Config{Certificates: testCerts(t)}))
	c, err := tls.Dial("tcp", addr, &tls.Config{
		InsecureSkipVerify: true, // self-signed test certificate
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519MLKEM768},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ConnectionState().CurveID; got != tls.X25519MLKEM768 {
		t.Errorf("key exchange %v, want X25519MLKEM768", got)
	}
	// A non-PQ policy refuses a client that offers only ML-KEM.
	q, _ := Lookup("ELBSecurityPolicy-TLS13-1-3-2021-06")
	addr = serve(t, q.TLSConfig(&tls.Config{Certificates: testCerts(t)}))
	if _, err := tls.Dial("tcp", addr, &tls.Config{
		InsecureSkipVerify: true, // self-signed test certificate
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519MLKEM768},
	}); err == nil {
		t.Error("ML-KEM-only client accepted by a classical policy")
	}
}

func TestNames(t *testing.T) {
	if got := CipherName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); got != "ECDHE-RSA-AES128-GCM-SHA256" {
		t.Errorf("CipherName = %q", got)
	}
	if got := CipherName(tls.TLS_AES_256_GCM_SHA384); got != "TLS_AES_256_GCM_SHA384" {
		t.Errorf("CipherName(TLS 1.3) = %q", got)
	}
	if got := ProtocolName(tls.VersionTLS10); got != "TLSv1" {
		t.Errorf("ProtocolName(TLS 1.0) = %q", got)
	}
	if got := ProtocolName(tls.VersionTLS13); got != "TLSv1.3" {
		t.Errorf("ProtocolName(TLS 1.3) = %q", got)
	}
}

package coredns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/miekg/dns"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// suiteCorefile is the conformance suite's coredns ConfigMap.
const suiteCorefile = `.:53 {
    forward . 8.8.8.8 9.9.9.9
    log
    errors
}
foo.bar.com:53 {
  whoami
}
`

func TestParseCorefile(t *testing.T) {
	got, err := ParseCorefile(suiteCorefile + `
# a comment
(snippet) {
  log
}
dns://example.org:5300, example.net:5300 example.com {
  forward . 127.0.0.1 {
    max_fails 3
  }
  whoami "quoted arg" # trailing
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d servers, want 4: %+v", len(got), got)
	}
	if got[0].Zones[0] != "." || got[0].Port != 53 || !got[0].Has("forward") || got[0].Has("whoami") || len(got[0].Plugins[0].Args) != 3 {
		t.Errorf("first block %+v", got[0])
	}
	if got[1].Zones[0] != "foo.bar.com." || got[1].Port != 53 || !got[1].Has("whoami") {
		t.Errorf("second block %+v", got[1])
	}
	if strings.Join(got[2].Zones, " ") != "example.org. example.net." || got[2].Port != 5300 || !got[2].Has("whoami") || !got[2].Has("forward") {
		t.Errorf("third block %+v", got[2])
	}
	if got[3].Zones[0] != "example.com." || got[3].Port != 53 {
		t.Errorf("fourth block %+v", got[3])
	}
	if w := got[2].Plugins[1]; w.Name != "whoami" || len(w.Args) != 1 || w.Args[0] != "quoted arg" {
		t.Errorf("whoami plugin %+v", w)
	}

	for text, want := range map[string]string{
		"":                         "no server block",
		".:53":                     "has no { ... }",
		".:53 { whoami":            "not closed",
		"}":                        "unexpected }",
		"{ whoami }":               "without a zone",
		".:99999 { whoami }":       "port",
		"tls://.:853 { whoami }":   "only dns://",
		"bad..name:53 { whoami }":  "not a domain name",
		`.:53 { whoami "open }`:    "quote not closed",
		".:53 { forward . x { }  ": "not closed",
	} {
		if _, err := ParseCorefile(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCorefile(%q) = %v, want an error with %q", text, err, want)
		}
	}
}

// FuzzParseCorefile: any text parses or fails with an error, and what
// parses has zones and ports in range.
func FuzzParseCorefile(f *testing.F) {
	for _, s := range []string{suiteCorefile, ".:53 { whoami }", "(s) { a }\n. { b { c } }", `a:1 "b" { c "d\"e" }`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		servers, err := ParseCorefile(s)
		if err != nil {
			return
		}
		for _, sv := range servers {
			if sv.Port < 1 || sv.Port > 65535 || len(sv.Zones) == 0 {
				t.Fatalf("server %+v from %q", sv, s)
			}
		}
	})
}

func TestIsImage(t *testing.T) {
	for image, want := range map[string]bool{
		"registry.k8s.io/coredns/coredns:v1.12.2":  true,
		"coredns/coredns":                          true,
		"coredns":                                  true,
		"registry.k8s.io/coredns/coredns@sha256:1": true,
		"example.com/coredns-fork:1":               false,
		"nginx":                                    false,
	} {
		if IsImage(image) != want {
			t.Errorf("IsImage(%q) = %v", image, !want)
		}
	}
}

// TestServe runs the suite's Corefile from a file as a ConfigMap volume
// holds it, and queries it as the UDPRoute test does (miekg/dns).
func TestServe(t *testing.T) {
	addr := netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(50)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, container.Container{
		Args:  []string{"-conf", "/root/Corefile"},
		Files: fstest.MapFS{"root/Corefile": {Data: []byte(suiteCorefile)}},
		Addr:  addr,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() {
		cancel()
		p.Wait()
	}()
	server := netip.AddrPortFrom(addr, 53).String()
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
		msg := new(dns.Msg)
		msg.SetQuestion("foo.bar.com.", dns.TypeA)
		r, _, err := c.Exchange(msg, server)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Extra) != 2 {
			t.Fatalf("%s: answer %v", proto, r)
		}
		a, ok := r.Extra[0].(*dns.A)
		srv, ok2 := r.Extra[1].(*dns.SRV)
		if !ok || !ok2 || !a.A.Equal(net.IPv4(127, 0, 0, 1)) || srv.Hdr.Name != "_"+proto+".foo.bar.com." || srv.Port == 0 {
			t.Errorf("%s: whoami records %v", proto, r.Extra)
		}
		// "." forwards: SERVFAIL, nothing sent off the host.
		msg.SetQuestion("example.com.", dns.TypeA)
		if r, _, err := c.Exchange(msg, server); err != nil || r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s: example.com: %v, %v; want SERVFAIL", proto, r, err)
		}
	}
}

func TestStartErrors(t *testing.T) {
	addr := netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(50)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
	for _, tc := range []struct {
		args  []string
		files fstest.MapFS
		want  string
	}{
		{[]string{"-conf", "/root/Corefile"}, nil, "coredns: -conf /root/Corefile: open /root/Corefile"},
		{[]string{"-conf"}, nil, "-conf needs a file"},
		{[]string{"-conf=/c"}, fstest.MapFS{"c": {Data: []byte(".:53 {")}}, "reading /c: line 1: { not closed"},
	} {
		if _, err := Start(context.Background(), container.Container{Args: tc.args, Files: tc.files, Addr: addr}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
	// Without -conf and without /Corefile: the image's default (whoami on 53).
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, container.Container{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	p.Wait()
}

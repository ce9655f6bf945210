package h2

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/summerwind/h2spec"
	"github.com/summerwind/h2spec/config"
	"golang.org/x/net/http2/hpack"
)

// TestH2spec runs h2spec, the conformance suite of RFC 7540 and RFC 7541
// (generic, http2 and hpack sections), against a server connection that
// answers every request with its body.
func TestH2spec(t *testing.T) {
	t.Parallel()
	addr := serve(t, Config{}, func(s *Stream) {
		go func() {
			body, err := io.ReadAll(s)
			if err != nil {
				return
			}
			s.WriteResponse([]hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain"}}, append([]byte("ok:"), body...))
		}()
	})
	host, port, _ := net.SplitHostPort(addr)
	p, _ := net.LookupPort("tcp", port)
	ok, err := h2spec.Run(&config.Config{Host: host, Port: p, Path: "/", Timeout: 2 * time.Second, MaxHeaderLen: 4000})
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Error("h2spec: some cases failed (see the output above)")
	}
}

package echo

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/elbowlb/elbow/internal/devenv/echobasic"
)

// HealthCheckUserAgent starts the User-Agent of the load balancers' health
// checks (AWS's, and the local ELB's); such requests are counted by path.
const HealthCheckUserAgent = "ELB-HealthChecker"

// maxDelay caps ?delay=.
const maxDelay = 30 * time.Second

// Answer is the JSON of every HTTP answer: the Gateway API conformance
// echo server's fields (echobasic.Answer, with httpPort the port the
// connection reached), then elbow's.
type Answer struct {
	echobasic.Answer

	// Node is the pod's node; PodIP its VPC address.
	Node  string `json:"node"`
	PodIP string `json:"podIP,omitempty"`
	// Source is the peer address on the socket (a host address);
	// SourceVPC the VPC address it stands for, when it stands for one.
	Source    string `json:"source"`
	SourceVPC string `json:"sourceVPC,omitempty"`
	// LocalAddress is the address:port the connection reached.
	LocalAddress string `json:"localAddress"`
	// ProxyProtocol is the PROXY header that came before the request.
	ProxyProtocol *proxyInfo `json:"proxyProtocol,omitempty"`
	// HealthChecks counts, by path, the health checks this pod answered
	// (requests whose User-Agent starts with ELB-HealthChecker).
	HealthChecks map[string]int `json:"healthChecks,omitempty"`
}

type connKey struct{}

func withConn(ctx context.Context, c *sniffedConn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func connOf(ctx context.Context) *sniffedConn {
	c, _ := ctx.Value(connKey{}).(*sniffedConn)
	return c
}

// healthStats counts health checks by path.
type healthStats struct {
	mu    sync.Mutex
	paths map[string]int
}

// maxHealthPaths bounds the paths counted.
const maxHealthPaths = 64

func (h *healthStats) add(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.paths[path]; ok || len(h.paths) < maxHealthPaths {
		h.paths[path]++
	}
}

func (h *healthStats) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.paths) == 0 {
		return nil
	}
	out := make(map[string]int, len(h.paths))
	for k, v := range h.paths {
		out[k] = v
	}
	return out
}

var statusPath = regexp.MustCompile(`^/status/(\d\d\d)$`)

// handler serves every HTTP request: gRPC to the gRPC server, WebSocket
// upgrades on /ws to an echo, /health with OK, /status/NNN with NNN,
// anything else with the JSON Answer (?status=N and ?delay=D adjust it).
func (s *Server) handler() http.Handler {
	ws := websocket.Server{Handler: func(c *websocket.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), HealthCheckUserAgent) {
			s.stats.add(r.URL.Path)
		}
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && r.URL.Path == "/ws" {
			ws.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/health" {
			_, _ = w.Write([]byte("OK"))
			return
		}
		if m := statusPath.FindStringSubmatch(r.URL.Path); m != nil {
			code, _ := strconv.Atoi(m[1])
			w.WriteHeader(code)
			return
		}
		code := http.StatusOK
		if v := r.URL.Query().Get("status"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > 599 {
				http.Error(w, "status: want a number from 100 to 599", http.StatusBadRequest)
				return
			}
			code = n
		}
		if v := r.URL.Query().Get("delay"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				http.Error(w, "delay: want a Go duration such as 500ms", http.StatusBadRequest)
				return
			}
			select {
			case <-time.After(min(d, maxDelay)):
			case <-r.Context().Done():
				return
			}
		}
		body, err := json.MarshalIndent(s.answer(r), "", " ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		_, _ = w.Write(body)
	})
}

// answer describes a request.
func (s *Server) answer(r *http.Request) Answer {
	a := Answer{
		Answer: echobasic.Answer{
			Path: r.RequestURI, Host: r.Host, Method: r.Method, Proto: r.Proto, Headers: r.Header,
			Namespace: s.id.Namespace, Pod: s.id.Pod,
		},
		Node: s.id.Node, Source: r.RemoteAddr, HealthChecks: s.stats.snapshot(),
	}
	if s.id.PodIP.IsValid() {
		a.PodIP = s.id.PodIP.String()
	}
	if a.Path == "" {
		a.Path = r.URL.RequestURI()
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		if vpc, ok := s.addrs.FromHost(ap.Addr().Unmap()); ok {
			a.SourceVPC = netip.AddrPortFrom(vpc, ap.Port()).String()
		}
	}
	state := r.TLS
	if c := connOf(r.Context()); c != nil {
		a.LocalAddress = c.local
		a.ProxyProtocol = c.proxy
		if state == nil {
			state = c.tls
		}
		if c.raw != nil {
			a.Source = c.raw.RemoteAddr().String()
		}
	}
	if a.LocalAddress == "" {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			a.LocalAddress = la.String()
		}
	}
	a.HTTPPort = portOf(a.LocalAddress)
	a.TLS = echobasic.TLSAnswerOf(state)
	return a
}

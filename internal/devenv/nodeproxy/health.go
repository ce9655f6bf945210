package nodeproxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"
)

// healthServer is a Service's health check node port on one node, as
// kube-proxy serves it: any method and path is answered with the Service's
// name and the number of its ready endpoints on the node; 200 when there
// is at least one, else 503.
type healthServer struct {
	srv   *http.Server
	state atomic.Pointer[health]
	done  chan struct{}
}

// healthAnswer is kube-proxy's answer body.
type healthAnswer struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints int `json:"localEndpoints"`
	// ServiceProxyHealthy is kube-proxy's own health; this proxy is healthy
	// whenever it answers (it serves only after its caches have synced,
	// and answers from the state of its last reconcile).
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

func startHealthServer(bind netip.AddrPort, h health, log *slog.Logger) (*healthServer, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bind))
	if err != nil {
		return nil, err
	}
	s := &healthServer{done: make(chan struct{})}
	s.set(h)
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health check node port stopped", "address", bind, "error", err)
		}
	}()
	return s, nil
}

func (s *healthServer) set(h health) { s.state.Store(&h) }

func (s *healthServer) current() health { return *s.state.Load() }

func (s *healthServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

// ServeHTTP answers as kube-proxy's service health server does.
func (s *healthServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := s.current()
	var a healthAnswer
	a.Service.Namespace, a.Service.Name = h.service.Namespace, h.service.Name
	a.LocalEndpoints = h.localEndpoints
	a.ServiceProxyHealthy = true
	body, err := json.MarshalIndent(a, "", "\t")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if a.LocalEndpoints > 0 {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

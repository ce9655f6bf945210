package nodeproxy

import (
	"context"
	"log/slog"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// frontend is one open listener.
type frontend interface {
	// setRoute changes where new connections and flows go; established
	// ones are left alone (UDP flows to endpoints no longer used are
	// forgotten, as kube-proxy clears their conntrack entries).
	setRoute(r *route)
	// close stops the listener and ends its connections and flows.
	close()
}

// proxy holds the open listeners of all nodes. Only Run's goroutine calls
// reconcile and closeAll.
type proxy struct {
	ctx   context.Context
	cfg   Config
	log   *slog.Logger
	hosts map[string]netip.Addr // node name -> host address

	frontends map[frontendKey]frontend
	routes    map[frontendKey]*route
	health    map[healthKey]*healthServer
	// failed remembers the listeners that could not be opened, with the
	// error last logged, so that a retry failing the same way logs at
	// debug level only.
	failed map[any]string
	// problems are the state's problems already logged.
	problems map[string]bool
}

func newProxy(ctx context.Context, cfg Config) *proxy {
	p := &proxy{
		ctx:       ctx,
		cfg:       cfg,
		log:       cfg.Logger,
		hosts:     map[string]netip.Addr{},
		frontends: map[frontendKey]frontend{},
		routes:    map[frontendKey]*route{},
		health:    map[healthKey]*healthServer{},
		failed:    map[any]string{},
		problems:  map[string]bool{},
	}
	for _, n := range cfg.Nodes {
		p.hosts[n.Name] = cfg.Addrs.ToHost(n.IP)
	}
	return p
}

// reconcile opens, updates and closes listeners to serve st.
func (p *proxy) reconcile(st state) {
	for k, pr := range st.problems {
		if !p.problems[k] {
			p.log.Log(p.ctx, pr.level, pr.msg, pr.args...)
		}
	}
	p.problems = map[string]bool{}
	for k := range st.problems {
		p.problems[k] = true
	}
	for k, f := range p.frontends {
		if _, ok := st.frontends[k]; !ok {
			r := p.routes[k]
			f.close()
			delete(p.frontends, k)
			delete(p.routes, k)
			p.log.Debug("node port closed", "node", k.node, "address", p.hosts[k.node], "protocol", k.proto, "nodePort", k.port, "service", r.service.String(), "port", r.port)
		}
	}
	for k := range p.failed {
		if fk, ok := k.(frontendKey); ok && st.frontends[fk] == nil {
			delete(p.failed, k)
		}
		if hk, ok := k.(healthKey); ok {
			if _, want := st.health[hk]; !want {
				delete(p.failed, k)
			}
		}
	}
	for k, r := range st.frontends {
		if f, ok := p.frontends[k]; ok {
			if !p.routes[k].equal(r) {
				f.setRoute(r)
				p.routes[k] = r
				p.log.Debug("node port updated", "node", k.node, "protocol", k.proto, "nodePort", k.port, "service", r.service.String(), "port", r.port, "local", r.local, "endpoints", len(r.backends))
			}
			continue
		}
		f, err := p.open(k, r)
		if err != nil {
			p.logFailure(k, err, "cannot listen on node port; retrying on the next change or resync",
				"node", k.node, "address", p.hosts[k.node], "protocol", k.proto, "nodePort", k.port, "service", r.service.String(), "port", r.port)
			continue
		}
		delete(p.failed, k)
		p.frontends[k] = f
		p.routes[k] = r
		p.log.Debug("node port open", "node", k.node, "address", p.hosts[k.node], "protocol", k.proto, "nodePort", k.port, "service", r.service.String(), "port", r.port, "local", r.local, "endpoints", len(r.backends))
	}

	for k, h := range p.health {
		if _, ok := st.health[k]; !ok {
			h.close()
			delete(p.health, k)
			p.log.Debug("health check node port closed", "node", k.node, "healthCheckNodePort", k.port, "service", h.current().service.String())
		}
	}
	for k, want := range st.health {
		if h, ok := p.health[k]; ok {
			h.set(want)
			continue
		}
		h, err := startHealthServer(netip.AddrPortFrom(p.hosts[k.node], k.port), want, p.log)
		if err != nil {
			p.logFailure(k, err, "cannot listen on health check node port; retrying on the next change or resync",
				"node", k.node, "address", p.hosts[k.node], "healthCheckNodePort", k.port, "service", want.service.String())
			continue
		}
		delete(p.failed, k)
		p.health[k] = h
		p.log.Debug("health check node port open", "node", k.node, "address", p.hosts[k.node], "healthCheckNodePort", k.port, "service", want.service.String(), "localEndpoints", want.localEndpoints)
	}
}

// logFailure logs a listener's failure at error level, or at debug level
// when the last attempt failed the same way.
func (p *proxy) logFailure(k any, err error, msg string, args ...any) {
	args = append(args, "error", err)
	if p.failed[k] == err.Error() {
		p.log.Debug(msg, args...)
		return
	}
	p.failed[k] = err.Error()
	p.log.Error(msg, args...)
}

// open starts the listener k serving r.
func (p *proxy) open(k frontendKey, r *route) (frontend, error) {
	bind := netip.AddrPortFrom(p.hosts[k.node], k.port)
	log := p.log.With("node", k.node, "protocol", k.proto, "nodePort", k.port)
	if k.proto == corev1.ProtocolUDP {
		return startUDP(p.ctx, bind, p.hosts[k.node], r, udpLimits{timeout: p.cfg.UDPTimeout, stream: p.cfg.UDPStreamTimeout, maxFlows: p.cfg.UDPMaxFlows}, log)
	}
	return startTCP(p.ctx, bind, p.hosts[k.node], r, p.cfg.DialTimeout, log)
}

// closeAll closes every listener, connection and flow.
func (p *proxy) closeAll() {
	for k, f := range p.frontends {
		f.close()
		delete(p.frontends, k)
	}
	for k, h := range p.health {
		h.close()
		delete(p.health, k)
	}
}

// Package console is the local ELB's web console (`elbow elb
// --console-listen`): every load balancer with its listeners, rules in
// priority order, target groups and targets with their live health and
// health-check history, the Kubernetes object each came from (from its
// tags), live rates from the data planes' own counters, and "try a
// request", which asks the ALB data plane's routing core what it would do
// with a request. It is read-only.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary. It
// loads the model once and then follows a server-sent event stream
// (/api/events): "model" when what it shows changes (state, health,
// history), "sample" with the live figures every Config.Interval.
// docs/console.md describes it.
package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

//go:embed assets
var assets embed.FS

// Defaults of Config.
const (
	// DefaultInterval is how often the live figures are sampled and the
	// model is looked at for changes.
	DefaultInterval = time.Second
	// DefaultSamples is how many samples are kept, and sent to a page
	// that opens.
	DefaultSamples = 120
)

// Config configures a Console.
type Config struct {
	// Health is the health checker; nil without data planes.
	Health Health
	// Metrics is the registry that /metrics serves: the data planes'
	// counters are read from it.
	Metrics prometheus.Gatherer
	// Activity are the data planes' per-target figures.
	Activity []Activity
	// Addresses realises VPC addresses on the host (for "try a request"
	// sources and target addresses).
	Addresses vpcaddr.Map
	// AccessKeyID and SecretAccessKey, with RequireAuth, are the
	// credentials a browser must give (HTTP Basic: the access key ID as
	// user name, the secret access key as password). Without
	// RequireAuth, the console answers only requests addressed to a
	// loopback name or address (Host header), which keeps pages of other
	// sites out (DNS rebinding).
	RequireAuth     bool
	AccessKeyID     string
	SecretAccessKey string
	// Logger receives the console's logs; nil discards.
	Logger *slog.Logger
	// Interval and Samples: DefaultInterval and DefaultSamples when zero.
	Interval time.Duration
	Samples  int
}

// Console serves the console's page and its data.
type Console struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub
	sampler *sampler
	snap    atomic.Pointer[state.Snapshot]
	wake    chan struct{}
	mux     *http.ServeMux

	// router compiles the state for "try a request" (Run's goroutine
	// only); routes is its latest compilation.
	router *routing.Router
	routes atomic.Pointer[routes]

	// model is the latest model's JSON.
	model atomic.Pointer[[]byte]
}

// New returns a Console; Run keeps its data current, Handler serves it.
func New(cfg Config) *Console {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Samples <= 0 {
		cfg.Samples = DefaultSamples
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	c := &Console{cfg: cfg, log: cfg.Logger, hub: newHub(cfg.Samples), wake: make(chan struct{}, 1)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.sampler = newSampler(cfg.Metrics, cfg.Activity)
	// The plane logs what does not compile; the console's router stays
	// quiet.
	c.router = routing.NewRouter(routing.Config{Addresses: cfg.Addresses, Health: cfg.Health})
	empty := []byte(`{"revision":0,"loadBalancers":[],"targetGroups":[]}`)
	c.model.Store(&empty)
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/model", c.serveModel)
	mux.HandleFunc("GET /api/events", c.serveEvents)
	mux.HandleFunc("POST /api/try", c.serveTry)
	c.mux = mux
	return c
}

// Apply takes a new state snapshot (a consumer of the server's
// snapshots).
func (c *Console) Apply(snap *state.Snapshot) {
	c.snap.Store(snap)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run samples the live figures and follows the state and health until
// ctx ends, then ends every event stream.
func (c *Console) Run(ctx context.Context) {
	defer c.hub.close()
	var healthChanges <-chan struct{}
	if n, ok := c.cfg.Health.(health.Notifier); ok {
		ch, cancel := n.Subscribe()
		defer cancel()
		healthChanges = ch
	}
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	c.refresh()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
			c.refresh()
			continue
		case <-healthChanges:
		case now := <-tick.C:
			s, err := c.sampler.sample(now)
			if err != nil {
				c.log.Warn("console: live figures not read", "error", err)
			} else if b, err := json.Marshal(s); err == nil {
				c.hub.publish(event{"sample", b})
			}
		}
		// Health and its history change all the time; with no page open
		// they wait for one (a stream starts with a fresh model).
		if c.hub.streaming() {
			c.refresh()
		}
	}
}

// refresh rebuilds the model and sends it when it changed.
func (c *Console) refresh() {
	snap := c.snap.Load()
	if snap == nil {
		return
	}
	m := buildModel(snap, c.cfg.Health, c.cfg.Addresses.ToHost)
	if rt := c.routes.Load(); rt == nil || rt.revision != snap.Revision {
		c.routes.Store(compileRoutes(c.router, snap, m))
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.log.Error("console: model not encoded", "error", err)
		return
	}
	if old := c.model.Load(); old != nil && bytes.Equal(*old, b) {
		return
	}
	c.model.Store(&b)
	c.hub.publish(event{"model", b})
}

// Handler serves the page, its assets and its data.
func (c *Console) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.admit(w, r) {
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		c.mux.ServeHTTP(w, r)
	})
}

// admit applies the console's access rule (Config.RequireAuth) and
// answers a request it refuses.
func (c *Console) admit(w http.ResponseWriter, r *http.Request) bool {
	if c.cfg.RequireAuth {
		user, pass, ok := r.BasicAuth()
		// Both comparisons always run: the time taken says nothing of
		// which part was wrong.
		u := subtle.ConstantTimeCompare([]byte(user), []byte(c.cfg.AccessKeyID))
		p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.cfg.SecretAccessKey))
		if !ok || u&p != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="elbow console", charset="UTF-8"`)
			http.Error(w, "the console needs the local ELB's credentials: the access key ID as user name, the secret access key as password", http.StatusUnauthorized)
			return false
		}
		return true
	}
	if !loopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("this console answers only requests for localhost or a loopback address, not for %q", r.Host), http.StatusForbidden)
		return false
	}
	return true
}

// loopbackHost reports whether a Host header names loopback: localhost
// (or a name under .localhost) or a loopback address, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// serveModel answers with the model as it is now.
func (c *Console) serveModel(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(c.current())
}

// current returns the model's JSON as it is now: built afresh from the
// latest snapshot and the health checker (buildModel only reads).
func (c *Console) current() []byte {
	snap := c.snap.Load()
	if snap == nil {
		return *c.model.Load()
	}
	b, err := json.Marshal(buildModel(snap, c.cfg.Health, c.cfg.Addresses.ToHost))
	if err != nil {
		return *c.model.Load()
	}
	return b
}

// keepAlive is how often an idle event stream gets a comment, so that
// proxies and browsers keep it open.
const keepAlive = 15 * time.Second

// serveEvents streams the model, the samples kept, and then every change.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	ch, cancel := c.hub.subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	hist, err := json.Marshal(c.hub.history())
	if err != nil {
		return
	}
	if err := writeEvent(w, event{"model", c.current()}); err != nil {
		return
	}
	if err := writeEvent(w, event{"history", hist}); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if writeEvent(w, ev) != nil {
				return
			}
		case <-ping.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// writeEvent writes one server-sent event. Data is JSON, one line.
func writeEvent(w http.ResponseWriter, ev event) error {
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
	return err
}

// event is one server-sent event.
type event struct {
	name string
	data []byte
}

// hub hands events to the open streams. A stream that falls behind by
// more than its buffer is ended; the browser reconnects and starts again
// from the current model.
type hub struct {
	mu      sync.Mutex
	streams map[chan event]struct{}
	samples []json.RawMessage
	keep    int
	closed  bool
}

func newHub(keep int) *hub { return &hub{streams: map[chan event]struct{}{}, keep: keep} }

// streamBuffer is how many events a stream may fall behind.
const streamBuffer = 64

func (h *hub) subscribe() (<-chan event, func()) {
	ch := make(chan event, streamBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	h.streams[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.streams[ch]; ok {
			delete(h.streams, ch)
			close(ch)
		}
	}
}

func (h *hub) publish(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ev.name == "sample" {
		h.samples = append(h.samples, ev.data)
		if len(h.samples) > h.keep {
			h.samples = append(h.samples[:0], h.samples[len(h.samples)-h.keep:]...)
		}
	}
	for ch := range h.streams {
		select {
		case ch <- ev:
		default:
			delete(h.streams, ch)
			close(ch)
		}
	}
}

// streaming reports whether a stream is open.
func (h *hub) streaming() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams) > 0
}

// history returns the samples published, oldest first.
func (h *hub) history() []json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]json.RawMessage{}, h.samples...)
}

// close ends every stream; later subscriptions end at once.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.streams {
		delete(h.streams, ch)
		close(ch)
	}
}

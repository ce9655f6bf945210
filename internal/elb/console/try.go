package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// "Try a request" hands a request that a browser describes to the ALB
// data plane's routing core (package routing) and reports its decision.
// The console compiles the state with a Router of its own, so trying
// moves no round-robin position of the running plane; targets are chosen
// among the same healthy targets (the same health checker).

// TryRequest is a request to route, as the page sends it.
type TryRequest struct {
	// Listener is the listener's ARN (an ALB's HTTP or HTTPS listener).
	Listener string `json:"listener"`
	// Zone is the load balancer node's zone; empty means its first.
	Zone   string `json:"zone"`
	Method string `json:"method"` // GET when empty
	// Host is the Host header; empty means none (the listener's address
	// stands in, as for an HTTP/1.0 request).
	Host  string `json:"host"`
	Path  string `json:"path"`  // "/" when empty
	Query string `json:"query"` // without '?'
	// Headers are more request headers.
	Headers []TryHeader `json:"headers"`
	// Source is the client's address: a host address or a VPC address
	// (through the address map); 127.0.0.1 when empty.
	Source string `json:"source"`
}

// TryHeader is one request header.
type TryHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TryResult is what the routing core decided.
type TryResult struct {
	// Rule is the rule that matched; nil when the request was answered
	// before the rules (TRACE, say).
	Rule *Rule `json:"rule,omitempty"`
	// Kind is "forward" (to Target) or "respond" (the load balancer
	// answers: Status, Location, ContentType, Body).
	Kind        string `json:"kind"`
	Status      int    `json:"status,omitempty"`
	Location    string `json:"location,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body,omitempty"`
	// ErrorReason is the access log's error_reason of an answer the load
	// balancer generated.
	ErrorReason string `json:"errorReason,omitempty"`
	// TargetGroup is the group a forward action chose.
	TargetGroup *TryGroup `json:"targetGroup,omitempty"`
	// Target is the target chosen, with its health now.
	Target *TryTarget `json:"target,omitempty"`
	// Host and URI are the Host header and request target sent to the
	// target, after transforms.
	Host string `json:"host,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// TryGroup names a target group.
type TryGroup struct {
	ARN  string `json:"arn"`
	Name string `json:"name"`
}

// TryTarget is the target a request goes to.
type TryTarget struct {
	Key     string `json:"key"`
	ID      string `json:"id"`
	Port    int32  `json:"port"`
	Zone    string `json:"zone,omitempty"`
	Address string `json:"address,omitempty"`
	State   string `json:"state,omitempty"`
}

// routes is one snapshot compiled for trying, with the words of its rules.
type routes struct {
	revision  uint64
	listeners map[string]*routing.Listener
	zones     map[string][]Zone // by listener ARN: its load balancer's zones
	rules     map[string]Rule   // by rule ARN, the default rules included
	tgNames   map[string]string
}

// compileRoutes compiles a snapshot with the console's router; m is the
// same snapshot's model. Router.Compile calls must not overlap: Run's
// goroutine is the only caller.
func compileRoutes(r *routing.Router, snap *state.Snapshot, m *Model) *routes {
	out := &routes{
		revision:  snap.Revision,
		listeners: r.Compile(snap).Listeners,
		zones:     map[string][]Zone{},
		rules:     map[string]Rule{},
		tgNames:   map[string]string{},
	}
	for _, lb := range m.LoadBalancers {
		for _, l := range lb.Listeners {
			out.zones[l.ARN] = lb.Zones
			for _, rule := range l.Rules {
				out.rules[rule.ARN] = rule
			}
		}
	}
	for _, tg := range m.TargetGroups {
		out.tgNames[tg.ARN] = tg.Name
	}
	return out
}

// maxTryBody bounds a "try a request" body.
const maxTryBody = 64 << 10

// serveTry answers POST /api/try.
func (c *Console) serveTry(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tryError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", ct))
		return
	}
	var req TryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTryBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		tryError(w, http.StatusBadRequest, "request body: "+err.Error())
		return
	}
	rt := c.routes.Load()
	if rt == nil {
		tryError(w, http.StatusServiceUnavailable, "the console has not read the state yet; try again in a second")
		return
	}
	res, err := c.try(rt, &req)
	if err != nil {
		tryError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func tryError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// try routes one request.
func (c *Console) try(rt *routes, tr *TryRequest) (*TryResult, error) {
	in, err := c.parseTry(rt, tr)
	if err != nil {
		return nil, err
	}
	var d routing.Decision
	in.listener.Route(in.zone, &in.req, &d)
	res := &TryResult{Kind: "respond", ErrorReason: d.ErrReason}
	if d.Rule != nil {
		rule, ok := rt.rules[d.Rule.ARN]
		if !ok {
			rule = Rule{ARN: d.Rule.ARN, Priority: fmt.Sprint(d.Rule.Priority)}
		}
		res.Rule = &rule
	}
	if d.Group != nil {
		res.TargetGroup = &TryGroup{ARN: d.Group.ARN, Name: rt.tgNames[d.Group.ARN]}
	}
	if d.Kind == routing.Forward && d.Target != nil {
		t := d.Target
		res.Kind, res.Host, res.URI = "forward", string(d.Host), string(d.URI)
		res.Target = &TryTarget{Key: state.TargetKey(d.Group.ARN, t.ID, t.Port), ID: t.ID, Port: t.Port, Zone: t.Zone, Address: t.VPC.String()}
		if c.cfg.Health != nil {
			res.Target.State = c.cfg.Health.Status(d.Group.ARN, t.ID, t.Port).State
		}
		return res, nil
	}
	res.Status, res.Location, res.ContentType, res.Body = d.Status, d.Location, d.ContentType, string(d.Body)
	return res, nil
}

// tryInput is a checked TryRequest.
type tryInput struct {
	listener *routing.Listener
	zone     string
	req      routing.Request
}

// maxTryHeaders bounds the headers of a tried request.
const maxTryHeaders = 100

// parseTry checks a TryRequest and builds the routing core's request.
func (c *Console) parseTry(rt *routes, tr *TryRequest) (*tryInput, error) {
	l := rt.listeners[tr.Listener]
	if l == nil {
		return nil, fmt.Errorf("listener %q: not an HTTP or HTTPS listener of an application load balancer in the state", tr.Listener)
	}
	zones := rt.zones[tr.Listener]
	var zone *Zone
	for i := range zones {
		if tr.Zone == "" || zones[i].Name == tr.Zone {
			zone = &zones[i]
			break
		}
	}
	if zone == nil {
		var names []string
		for _, z := range zones {
			names = append(names, z.Name)
		}
		return nil, fmt.Errorf("zone %q: the load balancer is in %s", tr.Zone, strings.Join(names, ", "))
	}
	method := tr.Method
	if method == "" {
		method = "GET"
	}
	if !isToken(method) {
		return nil, fmt.Errorf("method %q: want a token such as GET or POST (letters, digits, !#$%%&'*+-.^_`|~)", method)
	}
	path := tr.Path
	if path == "" {
		path = "/"
	}
	if path[0] != '/' || !visible(path) {
		return nil, fmt.Errorf("path %q: want an absolute path (starting with /) without spaces or control characters", path)
	}
	query := strings.TrimPrefix(tr.Query, "?")
	if !visible(query) {
		return nil, fmt.Errorf("query %q: want no spaces or control characters (percent-encode them)", query)
	}
	target := path
	if query != "" {
		target += "?" + query
	}
	host := tr.Host
	var headers []routing.Header
	if len(tr.Headers) > maxTryHeaders {
		return nil, fmt.Errorf("%d headers: at most %d", len(tr.Headers), maxTryHeaders)
	}
	for _, h := range tr.Headers {
		if !isToken(h.Name) {
			return nil, fmt.Errorf("header name %q: want a token (letters, digits, !#$%%&'*+-.^_`|~)", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: the value has a line break or NUL", h.Name)
		}
		if strings.EqualFold(h.Name, "host") {
			if host == "" {
				host = h.Value
			}
			continue
		}
		headers = append(headers, routing.Header{Name: []byte(h.Name), Value: []byte(h.Value)})
	}
	if host != "" && !visible(host) {
		return nil, fmt.Errorf("host %q: want no spaces or control characters", host)
	}
	in := &tryInput{listener: l, zone: zone.Name, req: routing.Request{
		Protocol: routing.HTTP1, Method: []byte(method), Target: []byte(target),
		DefaultHost: []byte(zone.Address), ContentLength: -1, Start: time.Now(),
	}}
	if host != "" {
		in.req.Host = []byte(host)
		// HTTP/1.1 sends Host among the headers, where http-header
		// conditions see it.
		headers = append([]routing.Header{{Name: []byte("Host"), Value: []byte(host)}}, headers...)
	}
	in.req.Headers = headers
	src, vpc, err := c.source(tr.Source)
	if err != nil {
		return nil, err
	}
	in.req.Source, in.req.SourceVPC = src, vpc
	return in, nil
}

// source reads the client's address: a VPC address stands for its host
// address through the address map, as a pod's does; a host address
// stands for the VPC address it realises, if any.
func (c *Console) source(s string) (host, vpc netip.Addr, err error) {
	if s == "" {
		s = "127.0.0.1"
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return host, vpc, fmt.Errorf("source %q: want an IPv4 or IPv6 address", s)
	}
	a = a.Unmap()
	if h := c.cfg.Addresses.ToHost(a); h != a {
		return h, a, nil
	}
	if v, ok := c.cfg.Addresses.FromHost(a); ok {
		return a, v, nil
	}
	return a, netip.Addr{}, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 tchar).
func isToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// visible reports whether s has no spaces, control characters or
// non-ASCII bytes, and fits a request line.
func visible(s string) bool {
	if len(s) > 8<<10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

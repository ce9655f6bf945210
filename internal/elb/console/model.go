package console

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Health is what the console reads of the health checker
// (*health.Checker satisfies it): the health the data planes route by,
// and the targets' history.
type Health interface {
	health.Source
	// History is the target's last check results and status changes.
	History(tgARN, targetID string, port int32) health.History
}

// Model is everything the console shows but the metrics: the load
// balancers with their listeners and rules, and the target groups with
// their targets and health. It is built from one state snapshot and the
// health checker, and sent to browsers as JSON.
type Model struct {
	Revision      uint64         `json:"revision"`
	LoadBalancers []LoadBalancer `json:"loadBalancers"`
	TargetGroups  []TargetGroup  `json:"targetGroups"`
}

// LoadBalancer is a load balancer and its listeners.
type LoadBalancer struct {
	ARN    string `json:"arn"`
	Name   string `json:"name"`
	Type   string `json:"type"` // application | network | gateway
	Scheme string `json:"scheme"`
	State  string `json:"state"`
	DNS    string `json:"dnsName"`
	// Dim is the CloudWatch dimension its metrics carry (state.Dimension).
	Dim       string     `json:"dim"`
	Zones     []Zone     `json:"zones"`
	Origin    *Origin    `json:"origin,omitempty"`
	Listeners []Listener `json:"listeners"`
}

// Zone is where a load balancer listens.
type Zone struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// PrivateAddress is the node's VPC address, which targets see.
	PrivateAddress string `json:"privateAddress,omitempty"`
}

// Listener is a listener and its rules in priority order, the default
// rule last.
type Listener struct {
	ARN      string `json:"arn"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// Detail names the security policy, certificates and ALPN policy.
	Detail string `json:"detail,omitempty"`
	Rules  []Rule `json:"rules"`
}

// Rule is a listener rule in words.
type Rule struct {
	ARN string `json:"arn"`
	// Priority is the rule's priority, "default" for the default rule.
	Priority   string   `json:"priority"`
	Conditions []string `json:"conditions"`
	Transforms []string `json:"transforms,omitempty"`
	Actions    []string `json:"actions"`
	// TargetGroups are the ARNs its forward actions name.
	TargetGroups []string `json:"targetGroups,omitempty"`
	Origin       *Origin  `json:"origin,omitempty"`
}

// TargetGroup is a target group and its targets.
type TargetGroup struct {
	ARN             string   `json:"arn"`
	Name            string   `json:"name"`
	Dim             string   `json:"dim"`
	Protocol        string   `json:"protocol,omitempty"`
	ProtocolVersion string   `json:"protocolVersion,omitempty"`
	Port            int32    `json:"port,omitempty"`
	TargetType      string   `json:"targetType"`
	HealthCheck     string   `json:"healthCheck"`
	LoadBalancers   []string `json:"loadBalancers"`
	Origin          *Origin  `json:"origin,omitempty"`
	Targets         []Target `json:"targets"`
}

// Target is a registered target, its health and its health history.
type Target struct {
	// Key is state.TargetKey of the target: its metrics series.
	Key  string `json:"key"`
	ID   string `json:"id"`
	Port int32  `json:"port"`
	Zone string `json:"zone,omitempty"`
	// Address is the target's VPC address, Host where the local ELB
	// reaches it.
	Address string `json:"address,omitempty"`
	Host    string `json:"host,omitempty"`
	// Name is the instance's Name tag (elbow dev: the node's name).
	Name        string       `json:"name,omitempty"`
	State       string       `json:"state"`
	Reason      string       `json:"reason,omitempty"`
	Description string       `json:"description,omitempty"`
	Checks      []Check      `json:"checks,omitempty"`
	Transitions []Transition `json:"transitions,omitempty"`
}

// Check is one health check result.
type Check struct {
	Time   int64  `json:"t"` // Unix milliseconds
	Result string `json:"result"`
	Code   int    `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Transition is a change of a target's health.
type Transition struct {
	Time   int64  `json:"t"` // Unix milliseconds
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// buildModel describes a snapshot. hc may be nil (no data planes): then
// every target is reported as DescribeTargetHealth would report it
// without a checker, initial.
func buildModel(snap *state.Snapshot, hc Health, hostOf func(netip.Addr) netip.Addr) *Model {
	m := &Model{Revision: snap.Revision, LoadBalancers: []LoadBalancer{}, TargetGroups: []TargetGroup{}}
	tgName := func(arn string) string {
		if tg := snap.TargetGroups[arn]; tg != nil {
			return tg.Name
		}
		return arn
	}
	for _, lb := range sortedValues(snap.LoadBalancers, func(l *state.LoadBalancer) string { return l.Name + " " + l.ARN }) {
		v := LoadBalancer{
			ARN: lb.ARN, Name: lb.Name, Type: lb.Type, Scheme: lb.Scheme, State: lb.State, DNS: lb.DNSName,
			Dim: state.Dimension(lb.ARN), Origin: originOf(snap.Tags[lb.ARN]), Listeners: []Listener{},
		}
		for _, z := range lb.Zones {
			v.Zones = append(v.Zones, Zone{Name: z.ZoneName, Address: z.Address, PrivateAddress: z.PrivateIPv4Address})
		}
		for _, l := range snap.ListenersOf(lb.ARN) {
			lv := Listener{ARN: l.ARN, Port: l.Port, Protocol: l.Protocol, Detail: listenerDetail(snap, l)}
			for _, r := range snap.RulesOf(l.ARN) {
				rv := Rule{
					ARN: r.ARN, Priority: strconv.Itoa(int(r.Priority)), Conditions: []string{},
					Transforms: transformWords(r.Transforms), Actions: actionWords(r.Actions, tgName),
					TargetGroups: state.ActionTargetGroups(r.Actions), Origin: originOf(snap.Tags[r.ARN]),
				}
				for _, c := range r.Conditions {
					rv.Conditions = append(rv.Conditions, conditionWords(c))
				}
				lv.Rules = append(lv.Rules, rv)
			}
			lv.Rules = append(lv.Rules, Rule{
				ARN: l.DefaultRuleARN, Priority: "default", Conditions: []string{},
				Actions: actionWords(l.DefaultActions, tgName), TargetGroups: state.ActionTargetGroups(l.DefaultActions),
			})
			v.Listeners = append(v.Listeners, lv)
		}
		m.LoadBalancers = append(m.LoadBalancers, v)
	}
	for _, tg := range sortedValues(snap.TargetGroups, func(t *state.TargetGroup) string { return t.Name + " " + t.ARN }) {
		v := TargetGroup{
			ARN: tg.ARN, Name: tg.Name, Dim: state.Dimension(tg.ARN), Protocol: tg.Protocol, ProtocolVersion: tg.ProtocolVersion,
			Port: tg.Port, TargetType: tg.TargetType, HealthCheck: healthCheckWords(tg),
			LoadBalancers: append([]string{}, snap.LoadBalancersOfTargetGroup(tg.ARN)...),
			Origin:        originOf(snap.Tags[tg.ARN]), Targets: []Target{},
		}
		for _, t := range snap.TargetsOf(tg.ARN) {
			v.Targets = append(v.Targets, targetOf(snap, hc, hostOf, tg, t))
		}
		m.TargetGroups = append(m.TargetGroups, v)
	}
	return m
}

// targetOf describes one target with its health.
func targetOf(snap *state.Snapshot, hc Health, hostOf func(netip.Addr) netip.Addr, tg *state.TargetGroup, t *state.Target) Target {
	v := Target{Key: state.TargetKey(tg.ARN, t.ID, t.Port), ID: t.ID, Port: t.Port, Zone: t.AvailabilityZone}
	if a, zone, err := snap.TargetVPCAddress(t); err == nil {
		v.Address, v.Zone = a.String(), zone
		if h := hostOf(a); h != a {
			v.Host = h.String()
		}
	}
	if ts := snap.Tags[t.ID]; ts != nil {
		v.Name, _ = ts.Get("Name")
	}
	st := health.RegistrationInProgress
	var hist health.History
	if hc != nil {
		st = hc.Status(tg.ARN, t.ID, t.Port)
		hist = hc.History(tg.ARN, t.ID, t.Port)
	}
	v.State, v.Reason, v.Description = st.State, st.Reason, st.Description
	for _, r := range hist.Results {
		v.Checks = append(v.Checks, Check{Time: millis(r.Time), Result: r.Result, Code: r.Code, Error: r.Error})
	}
	for _, tr := range hist.Transitions {
		v.Transitions = append(v.Transitions, Transition{Time: millis(tr.Time), From: tr.From.State, To: tr.To.State, Reason: tr.To.Reason})
	}
	return v
}

// listenerDetail names what a listener's TLS uses.
func listenerDetail(snap *state.Snapshot, l *state.Listener) string {
	var parts []string
	if l.SSLPolicy != "" {
		parts = append(parts, l.SSLPolicy)
	}
	for _, c := range l.Certificates {
		name := c.ARN
		if cert := snap.Certificates[c.ARN]; cert != nil && cert.DomainName != "" {
			name = cert.DomainName
		}
		if c.Default {
			name += " (default)"
		}
		parts = append(parts, "certificate "+name)
	}
	if len(l.AlpnPolicy) > 0 {
		parts = append(parts, "ALPN "+l.AlpnPolicy[0])
	}
	if ma := l.MutualAuthentication; ma != nil && ma.Mode != nil && *ma.Mode != "off" {
		parts = append(parts, "mutual TLS "+*ma.Mode)
	}
	return strings.Join(parts, "; ")
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// sortedValues returns a map's values ordered by key(v).
func sortedValues[T any](m map[string]*T, key func(*T) string) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

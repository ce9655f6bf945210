// Package plan runs every translator over a set of manifests and renders
// the result: the stacks (in the reference controller's stack JSON), the
// per-object errors, warnings and notes, and, on request, where each
// decision came from. `elbow plan` is a thin shell over it.
package plan

import (
	"encoding/json"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/gateway"
	"github.com/elbowlb/elbow/internal/translate/ingress"
	"github.com/elbowlb/elbow/internal/translate/manifests"
	"github.com/elbowlb/elbow/internal/translate/service"
)

// Input is what a plan is made from.
type Input struct {
	Objects *manifests.Objects
	Facts   *facts.Facts
	Options translate.Options
}

// Plan is the translation of every object.
type Plan struct {
	in      Input
	Ingress ingress.Result
	Service service.Result
	Gateway gateway.Result
}

// Build translates the objects.
func Build(in Input) *Plan {
	o := in.Objects
	p := &Plan{in: in}
	p.Ingress = ingress.BuildGroups(ingress.Input{
		Ingresses: o.Ingresses, IngressClasses: o.IngressClasses, IngressClassParams: o.IngressClassParams,
		Services: o.Services, Secrets: o.Secrets, Namespaces: o.Namespaces, Workloads: o.Workloads,
		Facts: in.Facts, Options: in.Options,
	})
	p.Service = service.Build(service.Input{Services: o.Services, Workloads: o.Workloads, Facts: in.Facts, Options: in.Options})
	p.Gateway = gateway.Build(gateway.Input{
		Objects:  o.Objects,
		Services: o.Services, Secrets: o.Secrets, Namespaces: o.Namespaces, Workloads: o.Workloads,
		Facts: in.Facts, Options: in.Options,
	})
	return p
}

// StackReport is one stack of a plan, with what produced it.
type StackReport struct {
	// Kind is "IngressGroup", "Service" or "Gateway".
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Members are the Ingresses of the group in order (IngressGroup only).
	Members  []string `json:"members,omitempty"`
	Failed   []string `json:"failed,omitempty"`
	Inactive []string `json:"inactive,omitempty"`
	// ListenPorts are the listener ports (IngressGroup and Gateway).
	ListenPorts []int32 `json:"listenPorts,omitempty"`
	// DryRun says the Gateway asks for a plan only (annotation
	// gateway.k8s.aws/dry-run).
	DryRun bool `json:"dryRun,omitempty"`
	// Error is set when the stack could not be built (Stack is then null).
	Error     string                 `json:"error,omitempty"`
	Stack     *stack.Stack           `json:"stack"`
	Decisions []translate.Decision   `json:"decisions,omitempty"`
	Notes     []translate.Diagnostic `json:"-"`
}

// Report is the JSON form of a plan.
type Report struct {
	Stacks      []StackReport          `json:"stacks"`
	Diagnostics []translate.Diagnostic `json:"diagnostics"`
	// GatewayStatus is the status the controller would write on the
	// Gateway API objects (omitted when there are none).
	GatewayStatus *gateway.Status `json:"gatewayStatus,omitempty"`
}

// addStack adds a stack report with its error and, when explain is set,
// its decisions; it returns diags with the stack's diagnostics appended.
func (r *Report) addStack(sr StackReport, err error, explain bool, decisions []translate.Decision, diags, stackDiags []translate.Diagnostic) []translate.Diagnostic {
	if err != nil {
		sr.Error = err.Error()
	}
	if explain {
		sr.Decisions = decisions
	}
	r.Stacks = append(r.Stacks, sr)
	return append(diags, stackDiags...)
}

// Report returns the plan's report; decisions are included when explain is set.
func (p *Plan) Report(explain bool) Report {
	r := Report{Stacks: []StackReport{}}
	var diags []translate.Diagnostic
	diags = append(diags, p.in.Objects.Diagnostics...)
	diags = append(diags, p.Ingress.Diagnostics...)
	diags = append(diags, p.Service.Diagnostics...)
	for _, g := range p.Ingress.Groups {
		sr := StackReport{Kind: "IngressGroup", ID: g.ID.String(), ListenPorts: g.ListenPorts, Stack: g.Stack}
		for _, m := range g.Members {
			sr.Members = append(sr.Members, m.Key())
		}
		for _, f := range g.Failed {
			sr.Failed = append(sr.Failed, f.Member.Key())
		}
		for _, i := range g.Inactive {
			sr.Inactive = append(sr.Inactive, i.Key())
		}
		diags = r.addStack(sr, g.Err, explain, g.Decisions, diags, g.Diagnostics)
	}
	for _, s := range p.Service.Stacks {
		sr := StackReport{Kind: "Service", ID: s.Service.Key(), Stack: s.Stack}
		diags = r.addStack(sr, s.Err, explain, s.Decisions, diags, s.Diagnostics)
	}
	diags = append(diags, p.Gateway.Diagnostics...)
	for _, g := range p.Gateway.Gateways {
		sr := StackReport{Kind: "Gateway", ID: g.Gateway.Key(), ListenPorts: g.ListenPorts, Stack: g.Stack, DryRun: g.DryRun}
		diags = r.addStack(sr, g.Err, explain, g.Decisions, diags, g.Diagnostics)
	}
	if !p.Gateway.Status.Empty() {
		st := p.Gateway.Status
		r.GatewayStatus = &st
	}
	sort.SliceStable(r.Stacks, func(i, j int) bool {
		if r.Stacks[i].Kind != r.Stacks[j].Kind {
			return r.Stacks[i].Kind < r.Stacks[j].Kind
		}
		return r.Stacks[i].ID < r.Stacks[j].ID
	})
	r.Diagnostics = translate.SortDiagnostics(diags)
	if r.Diagnostics == nil {
		r.Diagnostics = []translate.Diagnostic{}
	}
	return r
}

// Failed reports whether any object failed.
func (r Report) Failed() bool {
	for _, d := range r.Diagnostics {
		if d.Severity == translate.Error {
			return true
		}
	}
	for _, s := range r.Stacks {
		if s.Error != "" {
			return true
		}
	}
	return false
}

// JSON renders the report as indented JSON.
func (r Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// service returns a Service of the input.
func (p *Plan) service(ns, name string) *corev1.Service {
	for i := range p.in.Objects.Services {
		s := &p.in.Objects.Services[i]
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

// Options returns the options the plan was made with.
func (p *Plan) Options() translate.Options { return p.in.Options }

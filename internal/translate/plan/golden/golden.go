// Package golden runs translation golden tests: every testdata/NAME.in.yaml
// (with an optional NAME.facts.yaml) is planned and its report compared
// with NAME.out.json; -update rewrites the goldens. Each case is also
// planned again with its objects shuffled, which must give the same bytes.
//
// An input may hold one document of kind Options (apiVersion
// elbow.test/v1) that changes the translation options; see Options.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/manifests"
	"github.com/elbowlb/elbow/internal/translate/plan"
)

// Update is the -update flag of the tests that use this package.
var Update = flag.Bool("update", false, "rewrite the golden files")

// Options changes the translation options of one case.
type Options struct {
	APIVersion                        string                                    `json:"apiVersion"`
	Kind                              string                                    `json:"kind"`
	ClusterName                       *string                                   `json:"clusterName,omitempty"`
	IngressClass                      *string                                   `json:"ingressClass,omitempty"`
	LoadBalancerClass                 *string                                   `json:"loadBalancerClass,omitempty"`
	DefaultTargetType                 *string                                   `json:"defaultTargetType,omitempty"`
	DefaultScheme                     *string                                   `json:"defaultScheme,omitempty"`
	DefaultSSLPolicy                  *string                                   `json:"defaultSSLPolicy,omitempty"`
	DefaultTags                       map[string]string                         `json:"defaultTags,omitempty"`
	ExternalManagedTags               []string                                  `json:"externalManagedTags,omitempty"`
	FeatureGates                      map[string]bool                           `json:"featureGates,omitempty"`
	EnableBackendSG                   *bool                                     `json:"enableBackendSG,omitempty"`
	BackendSecurityGroupID            *string                                   `json:"backendSecurityGroupID,omitempty"`
	EnableManageBackendSGRules        *bool                                     `json:"enableManageBackendSGRules,omitempty"`
	DisableRestrictedSGRules          *bool                                     `json:"disableRestrictedSGRules,omitempty"`
	TolerateNonExistentBackendService *bool                                     `json:"tolerateNonExistentBackendService,omitempty"`
	TolerateNonExistentBackendAction  *bool                                     `json:"tolerateNonExistentBackendAction,omitempty"`
	AdoptServicesWithoutClass         *bool                                     `json:"adoptServicesWithoutClass,omitempty"`
	AssumeMissingReferences           *bool                                     `json:"assumeMissingReferences,omitempty"`
	AssumeMissingSecrets              *bool                                     `json:"assumeMissingSecrets,omitempty"`
	AssumeNodePorts                   *bool                                     `json:"assumeNodePorts,omitempty"`
	WebACLs                           map[string]string                         `json:"webACLs,omitempty"`
	TrustStores                       map[string]string                         `json:"trustStores,omitempty"`
	TargetGroups                      map[string]string                         `json:"targetGroups,omitempty"`
	ExistingLoadBalancers             map[string]translate.ExistingLoadBalancer `json:"existingLoadBalancers,omitempty"`
}

// Case is one parsed golden input.
type Case struct {
	Name    string
	Objects *manifests.Objects
	Facts   *facts.Facts
	Options translate.Options
}

// Load reads NAME.in.yaml (and NAME.facts.yaml) with the plan command's
// defaults: cluster "demo", the default facts (whose references are then
// assumed), OIDC Secrets and node ports assumed, Services without a class
// adopted, and the controller's IngressClass.
func Load(inPath string) (*Case, error) {
	return load(inPath, "demo", strings.TrimSuffix(inPath, ".in.yaml")+".facts.yaml")
}

func load(inPath, cluster, factsPath string) (*Case, error) {
	raw, err := os.ReadFile(inPath)
	if err != nil {
		return nil, err
	}
	var docs []string
	var o Options
	for _, d := range strings.Split("\n"+string(raw), "\n---") {
		if strings.Contains(d, "apiVersion: elbow.test/v1") {
			if err := yaml.UnmarshalStrict([]byte(d), &o); err != nil {
				return nil, fmt.Errorf("%s: Options: %w", inPath, err)
			}
			continue
		}
		docs = append(docs, d)
	}
	objs := &manifests.Objects{}
	if err := objs.Add(inPath, []byte(strings.Join(docs, "\n---"))); err != nil {
		return nil, err
	}
	opts := translate.DefaultOptions()
	opts.ClusterName = cluster
	opts.AdoptServicesWithoutClass = true
	opts.AssumeMissingSecrets = true
	opts.AssumeNodePorts = true
	var f *facts.Facts
	if _, err := os.Stat(factsPath); factsPath != "" && err == nil {
		if f, err = facts.Load(factsPath); err != nil {
			return nil, err
		}
	} else {
		f = facts.Default("us-east-1", cluster)
		opts.AssumeMissingReferences = true
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&opts.ClusterName, o.ClusterName)
	set(&opts.IngressClass, o.IngressClass)
	set(&opts.LoadBalancerClass, o.LoadBalancerClass)
	set(&opts.DefaultTargetType, o.DefaultTargetType)
	set(&opts.DefaultScheme, o.DefaultScheme)
	set(&opts.DefaultSSLPolicy, o.DefaultSSLPolicy)
	set(&opts.BackendSecurityGroupID, o.BackendSecurityGroupID)
	setB(&opts.EnableBackendSG, o.EnableBackendSG)
	setB(&opts.EnableManageBackendSGRules, o.EnableManageBackendSGRules)
	setB(&opts.DisableRestrictedSGRules, o.DisableRestrictedSGRules)
	setB(&opts.TolerateNonExistentBackendService, o.TolerateNonExistentBackendService)
	setB(&opts.TolerateNonExistentBackendAction, o.TolerateNonExistentBackendAction)
	setB(&opts.AdoptServicesWithoutClass, o.AdoptServicesWithoutClass)
	setB(&opts.AssumeMissingReferences, o.AssumeMissingReferences)
	setB(&opts.AssumeMissingSecrets, o.AssumeMissingSecrets)
	setB(&opts.AssumeNodePorts, o.AssumeNodePorts)
	opts.DefaultTags = o.DefaultTags
	opts.ExternalManagedTags = o.ExternalManagedTags
	opts.FeatureGates = o.FeatureGates
	opts.References = translate.References{WebACLs: o.WebACLs, TrustStores: o.TrustStores, TargetGroups: o.TargetGroups, ExistingLoadBalancers: o.ExistingLoadBalancers}
	plan.AddDefaultIngressClass(objs, opts.IngressClass)
	return &Case{Name: strings.TrimSuffix(strings.TrimSuffix(filepath.Base(inPath), ".yaml"), ".in"), Objects: objs, Facts: f, Options: opts}, nil
}

// Report plans a case and renders its report (with decisions).
func (c *Case) Report() ([]byte, error) {
	return plan.Build(plan.Input{Objects: c.Objects, Facts: c.Facts, Options: c.Options}).Report(true).JSON()
}

// shuffled returns a copy of the case with every object list shuffled.
func (c *Case) shuffled(seed int64) *Case {
	r := rand.New(rand.NewSource(seed))
	o := *c.Objects
	shuffle := func(n int, swap func(i, j int)) { r.Shuffle(n, swap) }
	o.Ingresses = append(o.Ingresses[:0:0], o.Ingresses...)
	shuffle(len(o.Ingresses), func(i, j int) { o.Ingresses[i], o.Ingresses[j] = o.Ingresses[j], o.Ingresses[i] })
	o.Services = append(o.Services[:0:0], o.Services...)
	shuffle(len(o.Services), func(i, j int) { o.Services[i], o.Services[j] = o.Services[j], o.Services[i] })
	o.IngressClasses = append(o.IngressClasses[:0:0], o.IngressClasses...)
	shuffle(len(o.IngressClasses), func(i, j int) { o.IngressClasses[i], o.IngressClasses[j] = o.IngressClasses[j], o.IngressClasses[i] })
	o.IngressClassParams = append(o.IngressClassParams[:0:0], o.IngressClassParams...)
	shuffle(len(o.IngressClassParams), func(i, j int) {
		o.IngressClassParams[i], o.IngressClassParams[j] = o.IngressClassParams[j], o.IngressClassParams[i]
	})
	o.Secrets = append(o.Secrets[:0:0], o.Secrets...)
	shuffle(len(o.Secrets), func(i, j int) { o.Secrets[i], o.Secrets[j] = o.Secrets[j], o.Secrets[i] })
	o.Workloads = append(o.Workloads[:0:0], o.Workloads...)
	shuffle(len(o.Workloads), func(i, j int) { o.Workloads[i], o.Workloads[j] = o.Workloads[j], o.Workloads[i] })
	o.Diagnostics = append(o.Diagnostics[:0:0], o.Diagnostics...)
	shuffle(len(o.Diagnostics), func(i, j int) { o.Diagnostics[i], o.Diagnostics[j] = o.Diagnostics[j], o.Diagnostics[i] })
	shuffleCopy(r, &o.GatewayClasses)
	shuffleCopy(r, &o.Gateways)
	shuffleCopy(r, &o.ListenerSets)
	shuffleCopy(r, &o.HTTPRoutes)
	shuffleCopy(r, &o.GRPCRoutes)
	shuffleCopy(r, &o.TCPRoutes)
	shuffleCopy(r, &o.UDPRoutes)
	shuffleCopy(r, &o.TLSRoutes)
	shuffleCopy(r, &o.ReferenceGrants)
	shuffleCopy(r, &o.LoadBalancerConfigurations)
	shuffleCopy(r, &o.TargetGroupConfigurations)
	shuffleCopy(r, &o.ListenerRuleConfigurations)
	shuffleCopy(r, &o.Namespaces)
	cp := *c
	cp.Objects = &o
	return &cp
}

// shuffleCopy replaces *list with a shuffled copy.
func shuffleCopy[T any](r *rand.Rand, list *[]T) {
	l := append((*list)[:0:0], *list...)
	r.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
	*list = l
}

// Run runs every case of dir as a subtest.
func Run(t *testing.T, dir string) {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join(dir, "*.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatalf("no *.in.yaml in %s", dir)
	}
	for _, in := range ins {
		run(t, in, strings.TrimSuffix(in, ".in.yaml")+".out.json", func() (*Case, error) { return Load(in) })
	}
}

// RunExamples plans every *.yaml of dir as `elbow plan -f FILE` does
// (cluster "elbow", the default facts) and compares the reports with
// goldenDir/NAME.out.json; every example must plan without an error.
func RunExamples(t *testing.T, dir, goldenDir string) {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatalf("no *.yaml in %s", dir)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		run(t, in, filepath.Join(goldenDir, name+".out.json"), func() (*Case, error) {
			c, err := load(in, "elbow", "")
			if err != nil {
				return nil, err
			}
			if plan.Build(plan.Input{Objects: c.Objects, Facts: c.Facts, Options: c.Options}).Report(false).Failed() {
				return c, fmt.Errorf("example %s does not plan cleanly", name)
			}
			return c, nil
		})
	}
}

func run(t *testing.T, in, out string, load func() (*Case, error)) {
	t.Helper()
	t.Run(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".yaml"), ".in"), func(t *testing.T) {
		t.Parallel()
		c, err := load()
		if c == nil {
			t.Fatal(err)
		}
		got, rerr := c.Report()
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			t.Errorf("%v:\n%s", err, got)
		}
		if *Update {
			if err := os.WriteFile(out, got, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report differs from %s (run with -update after reviewing):\n%s", out, diff(string(want), string(got)))
			}
		}
		for seed := int64(1); seed <= 3; seed++ {
			again, err := c.shuffled(seed).Report()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Fatalf("shuffled input (seed %d) gives different bytes:\n%s", seed, diff(string(got), string(again)))
			}
		}
	})
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return "(no line differs)"
}

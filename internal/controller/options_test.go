package controller

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestFlagsDefaults(t *testing.T) {
	o := DefaultOptions()
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.AddFlags(fs)
	for flag, want := range map[string]string{
		"ingress-class":                       "alb",
		"load-balancer-class":                 "service.k8s.aws/nlb",
		"default-target-type":                 "instance",
		"default-load-balancer-scheme":        "internal",
		"default-ssl-policy":                  "ELBSecurityPolicy-2016-08",
		"aws-max-retries":                     "10",
		"enable-leader-election":              "true",
		"metrics-bind-addr":                   ":8080",
		"health-probe-bind-addr":              ":61779",
		"webhook-bind-port":                   "9443",
		"sync-period":                         "10h0m0s",
		"targetgroupbinding-requeue-duration": "15s",
	} {
		f := fs.Lookup(flag)
		if f == nil {
			t.Errorf("no flag --%s", flag)
			continue
		}
		if f.DefValue != want {
			t.Errorf("--%s default %q, want %q", flag, f.DefValue, want)
		}
	}
	for _, flag := range []string{"cluster-name", "aws-region", "aws-vpc-id", "aws-api-endpoints", "aws-api-throttle",
		"elb-endpoint", "default-tags", "external-managed-tags", "watch-namespace", "feature-gates", "kubeconfig", "disable-webhooks"} {
		if fs.Lookup(flag) == nil {
			t.Errorf("no flag --%s", flag)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"ok", func(*Options) {}, ""},
		{"no cluster", func(o *Options) { o.ClusterName = "" }, "--cluster-name is required"},
		{"target type", func(o *Options) { o.DefaultTargetType = "lambda" }, "want instance or ip"},
		{"scheme", func(o *Options) { o.DefaultLoadBalancerScheme = "public" }, "want internal or internet-facing"},
		{"elb endpoint", func(o *Options) { o.ELBEndpoint = "127.0.0.1:4566" }, "--elb-endpoint"},
		{"webhook url", func(o *Options) { o.WebhookURL = "http://127.0.0.1:9443" }, "--webhook-url"},
		{"default tags", func(o *Options) { o.DefaultTags = "novalue" }, "--default-tags"},
		{"reserved tag", func(o *Options) { o.DefaultTags = "elbv2.k8s.aws/cluster=x" }, "reserved"},
		{"gates", func(o *Options) { o.FeatureGates = "NLBSecurityGroup=maybe" }, "want true or false"},
		{"port", func(o *Options) { o.WebhookBindPort = 0 }, "--webhook-bind-port"},
		{"assumed references on AWS", func(o *Options) { o.AutoProvisionReferences = true }, "--auto-provision-references needs --elb-endpoint"},
		{"assumed references on a local ELB", func(o *Options) { o.AutoProvisionReferences = true; o.ELBEndpoint = "http://127.0.0.1:4566" }, ""},
		{"API throttle", func(o *Options) { o.AWSAPIThrottle = "Elastic Load Balancing v2:^Describe=5:10" }, ""},
		{"API throttle of rate 0", func(o *Options) { o.AWSAPIThrottle = "EC2:.*=0:5" }, `rule "EC2:.*=0:5": rate 0 would block every call after the first 5`},
		{"bad API throttle", func(o *Options) { o.AWSAPIThrottle = "Elastic Load Balancing v2:^Describe=5" }, `--aws-api-throttle: throttle rule "Elastic Load Balancing v2:^Describe=5"`},
	} {
		o := DefaultOptions()
		o.ClusterName = "c"
		tc.edit(&o)
		err := o.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTranslateOptions(t *testing.T) {
	o := DefaultOptions()
	o.ClusterName = "prod"
	o.DefaultTags = "team=web, env = prod"
	o.FeatureGates = "NLBSecurityGroup=false"
	o.DefaultTargetType = "ip"
	to, err := o.TranslateOptions()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "web", "env": "prod"}, to.DefaultTags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if to.FeatureGates.Enabled("NLBSecurityGroup") || !to.FeatureGates.Enabled("ListenerRulesTagging") {
		t.Errorf("gates: %v", to.FeatureGates)
	}
	if to.ClusterName != "prod" || to.DefaultTargetType != "ip" || to.IngressClass != "alb" || !to.EnableBackendSG || to.AssumeMissingReferences {
		t.Errorf("options: %+v", to)
	}
	o.AutoProvisionReferences = true
	if to, err = o.TranslateOptions(); err != nil || !to.AssumeMissingReferences {
		t.Errorf("--auto-provision-references: AssumeMissingReferences = %v (%v), want true", to.AssumeMissingReferences, err)
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints("EC2=http://127.0.0.1:4566, Elastic Load Balancing v2=http://127.0.0.1:4566")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"EC2": "http://127.0.0.1:4566", "Elastic Load Balancing v2": "http://127.0.0.1:4566"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"EC2", "=http://x", "EC2="} {
		if _, err := ParseEndpoints(bad); err == nil {
			t.Errorf("ParseEndpoints(%q): no error", bad)
		}
	}
}

func FuzzParseStringMap(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b,c=d", " a = b ,", "=x", "a", "a==b,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseStringMap(s)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" || strings.ContainsAny(k, ",") {
				t.Fatalf("ParseStringMap(%q) has key %q", s, k)
			}
		}
	})
}

func FuzzParseEndpoints(f *testing.F) {
	for _, s := range []string{"", "EC2=http://x", "A=b,C=d", "=", "x=", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseEndpoints(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || v == "" {
				t.Fatalf("ParseEndpoints(%q) = %v", s, m)
			}
		}
	})
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func runPlanCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newPlanCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// Every example plans and exits 0.
func TestPlanEveryExample(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		out, _, err := runPlanCmd(t, "-f", f)
		if err != nil {
			t.Errorf("elbow plan -f %s: %v\n%s", f, err, out)
		}
		if strings.Contains(out, "ERROR") {
			t.Errorf("elbow plan -f %s printed errors:\n%s", f, out)
		}
	}
}

func TestPlanFullIngressMatchesManifest(t *testing.T) {
	out, _, err := runPlanCmd(t, "-f", "../../examples/alb-ingress-full.yaml", "--explain")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"IngressGroup shared-alb",
		"ALB my-app-alb (internet-facing, ipv4)",
		"listener HTTP:80",
		"listener HTTPS:443",
		"certificates: arn:aws:acm:ap-northeast-2:123456789:certificate/xxx (default)",
		"ssl policy: ELBSecurityPolicy-TLS13-1-2-2021-06",
		"health check: HTTP /health on traffic-port, codes 200, every 15s, timeout 5s, healthy after 2, unhealthy after 2",
		"tags: Environment=production, Team=backend, elbv2.k8s.aws/cluster=elbow, ingress.k8s.aws/resource=LoadBalancer, ingress.k8s.aws/stack=shared-alb",
		"targets: pods of Service default/my-app-svc port 80 selected by app=my-app",
		"why:",
		"from: annotation alb.ingress.kubernetes.io/scheme on Ingress default/my-app-ingress",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanJSONAndYAML(t *testing.T) {
	out, _, err := runPlanCmd(t, "-f", "../../examples/nlb-ip.yaml", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Stacks []struct {
			Kind  string          `json:"kind"`
			ID    string          `json:"id"`
			Stack json.RawMessage `json:"stack"`
		} `json:"stacks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Stacks) != 1 || rep.Stacks[0].ID != "default/my-nlb-service" {
		t.Fatalf("json report %v: %s", err, out)
	}
	if !bytes.Contains(rep.Stacks[0].Stack, []byte(`"AWS::ElasticLoadBalancingV2::LoadBalancer"`)) {
		t.Fatalf("stack JSON %s", rep.Stacks[0].Stack)
	}
	out, _, err = runPlanCmd(t, "-f", "../../examples/nlb-ip.yaml", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var y map[string]any
	if err := yaml.Unmarshal([]byte(out), &y); err != nil || y["stacks"] == nil {
		t.Fatalf("yaml report %v: %s", err, out)
	}
	if _, _, err := runPlanCmd(t, "-f", "../../examples/nlb-ip.yaml", "-o", "xml"); err == nil {
		t.Fatal("-o xml accepted")
	}
	if _, _, err := runPlanCmd(t); err == nil {
		t.Fatal("plan without -f accepted")
	}
}

func TestPlanFailsAndPrintsEveryError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`
apiVersion: v1
kind: Service
metadata:
  name: a
  annotations: {service.beta.kubernetes.io/aws-load-balancer-type: external, service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip, service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: often}
spec: {type: LoadBalancer, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: b
  annotations: {service.beta.kubernetes.io/aws-load-balancer-type: external, service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip, service.beta.kubernetes.io/aws-load-balancer-scheme: public}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runPlanCmd(t, "-f", bad)
	if err == nil || !strings.Contains(err.Error(), "2 object(s) failed") {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{`ERROR: Service default/a: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: "often"`, `ERROR: Service default/b: annotation service.beta.kubernetes.io/aws-load-balancer-scheme: "public"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, errOut, err := runPlanCmd(t, "-f", bad, "-o", "json")
	if err == nil || !strings.Contains(errOut, "ERROR: Service default/a") {
		t.Fatalf("json mode: err %v stderr %q", err, errOut)
	}
}

func TestPlanFactsFileReferences(t *testing.T) {
	dir := t.TempDir()
	factsFile := filepath.Join(dir, "facts.yaml")
	if err := os.WriteFile(factsFile, []byte(`
clusterName: prod
vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}]
subnets:
- {id: subnet-a, vpcID: vpc-1, availabilityZone: us-east-1a, cidr: 10.0.0.0/20, tags: {kubernetes.io/role/internal-elb: "1"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runPlanCmd(t, "-f", "../../examples/nlb-internal.yaml", "--facts", factsFile)
	if err == nil || !strings.Contains(out, "subnets subnet-xxx, subnet-yyy are not in the facts") {
		t.Fatalf("missing subnets with a facts file: %v\n%s", err, out)
	}
	out, _, err = runPlanCmd(t, "-f", "../../examples/nlb-internal.yaml", "--facts", factsFile, "--auto-provision-references")
	if err != nil || !strings.Contains(out, "ASSUMED subnet subnet-xxx") || !strings.Contains(out, "elbv2.k8s.aws/cluster=prod") {
		t.Fatalf("auto-provisioned references: %v\n%s", err, out)
	}
	out, _, err = runPlanCmd(t, "-f", "../../examples/nlb-redis.yaml", "--facts", factsFile)
	if err != nil || !strings.Contains(out, "subnets: subnet-a") {
		t.Fatalf("discovery from the facts file: %v\n%s", err, out)
	}
}

func TestPlanDirectoryAndGateways(t *testing.T) {
	out, _, err := runPlanCmd(t, "-f", "../../examples")
	if err == nil {
		// All examples together: two share default/my-app Deployments and
		// Services, which is fine; the plan must still succeed.
		if !strings.Contains(out, "Gateway app-ns/my-alb") || !strings.Contains(out, "Gateway app-ns/my-nlb") {
			t.Fatalf("no ALB or no NLB Gateway stack:\n%s", out)
		}
		return
	}
	t.Fatalf("plan -f examples: %v\n%s", err, out)
}

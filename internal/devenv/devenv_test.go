package devenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elbowlb/elbow/internal/facts"
)

func TestPlanNodes(t *testing.T) {
	f := facts.Default("us-east-1", "c")
	nodes, err := planNodes(f, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, zone, ip string }{
		{"ip-10-0-128-10.ec2.internal", "us-east-1a", "10.0.128.10"},
		{"ip-10-0-160-10.ec2.internal", "us-east-1b", "10.0.160.10"},
		{"ip-10-0-192-10.ec2.internal", "us-east-1c", "10.0.192.10"},
		{"ip-10-0-128-11.ec2.internal", "us-east-1a", "10.0.128.11"},
	}
	for i, w := range want {
		n := nodes[i]
		if n.Name != w.name || n.Zone != w.zone || n.IP.String() != w.ip || !n.Subnet.Contains(n.IP) || !strings.HasPrefix(n.InstanceID, "i-") {
			t.Errorf("node %d: %+v, want %+v", i, n, w)
		}
	}
	again, _ := planNodes(f, 4)
	if again[3].InstanceID != nodes[3].InstanceID {
		t.Error("instance IDs are not stable")
	}
	if err := withInstances(f, nodes); err != nil {
		t.Fatal(err)
	}
	if len(f.Instances) != 4 || f.Instances[1].PrivateIP != "10.0.160.10" || f.Instances[1].Tags["kubernetes.io/cluster/c"] != "owned" {
		t.Errorf("instances %+v", f.Instances)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("facts with the nodes: %v", err)
	}
	for _, n := range []int{0, MaxNodes + 1} {
		if _, err := planNodes(f, n); err == nil || !strings.Contains(err.Error(), "--nodes") {
			t.Errorf("planNodes(%d) = %v, want an error naming --nodes", n, err)
		}
	}
}

func TestLoadObjects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", `# comment only
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s1}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c1, namespace: other}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
`)
	write("b.json", `{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}}`)
	objs, err := LoadObjects([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Ref()+"@"+filepath.Base(o.Source))
	}
	want := "Service s1@a.yaml#2.items[0] ConfigMap other/c1@a.yaml#2.items[1] Namespace other@a.yaml#3 CustomResourceDefinition x.example.com@b.json#1"
	if strings.Join(got, " ") != want {
		t.Errorf("objects:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if order(objs[2]) != 0 || order(objs[3]) != 1 || order(objs[0]) != 2 {
		t.Error("apply order: namespaces, then CRDs, then the rest")
	}

	write("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {}\n")
	if _, err := LoadObjects([]string{filepath.Join(dir, "bad.yaml")}); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("an object without a name: %v", err)
	}
	write("worse.yaml", "apiVersion: v1\nkind: [\n")
	if _, err := LoadObjects([]string{filepath.Join(dir, "worse.yaml")}); err == nil || !strings.Contains(err.Error(), "worse.yaml") {
		t.Errorf("malformed YAML: %v, want an error naming the file", err)
	}
}

func TestCommand(t *testing.T) {
	alb := LoadBalancer{Type: "application", Addresses: []Address{{Zone: "us-east-1a", IP: "127.77.0.1"}}, Hosts: []string{"*.example.com"}}
	nlb := LoadBalancer{Type: "network", Addresses: []Address{{Zone: "us-east-1a", IP: "127.77.0.2"}}}
	for _, tc := range []struct {
		lb   LoadBalancer
		l    Listener
		want string
	}{
		{alb, Listener{Protocol: "HTTP", Port: 80}, "curl -H 'Host: www.example.com' http://127.77.0.1/"},
		{alb, Listener{Protocol: "HTTP", Port: 8080}, "curl -H 'Host: www.example.com' http://127.77.0.1:8080/"},
		{alb, Listener{Protocol: "HTTPS", Port: 443}, "curl -k --resolve www.example.com:443:127.77.0.1 https://www.example.com/"},
		{alb, Listener{Protocol: "HTTPS", Port: 8443}, "curl -k --resolve www.example.com:8443:127.77.0.1 -H 'Host: www.example.com' https://www.example.com:8443/"},
		{alb, Listener{Protocol: "HTTPS", Port: 443, TargetProtocolVersion: "GRPC"}, "grpcurl -insecure -authority www.example.com 127.77.0.1:443 grpc.health.v1.Health/Check"},
		{nlb, Listener{Protocol: "TCP", Port: 6379}, "curl http://127.77.0.2:6379/"},
		{nlb, Listener{Protocol: "TCP", Port: 443}, "curl -k https://127.77.0.2:443/"},
		{nlb, Listener{Protocol: "TLS", Port: 443}, "curl -k https://127.77.0.2:443/"},
		{LoadBalancer{Type: "network", Addresses: nlb.Addresses, Hosts: []string{"chat.example.com"}}, Listener{Protocol: "TLS", Port: 5223}, "curl -k --resolve chat.example.com:5223:127.77.0.2 https://chat.example.com:5223/"},
		{nlb, Listener{Protocol: "UDP", Port: 7778}, "echo hello | nc -u -w1 127.77.0.2 7778"},
	} {
		if got := command(tc.lb, tc.l, tc.lb.Addresses[0].IP); got != tc.want {
			t.Errorf("%s:%d: %q, want %q", tc.l.Protocol, tc.l.Port, got, tc.want)
		}
	}
}

func TestLoadPorts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.json")
	p, err := loadPorts(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Slot != 2 || p.ELB == 0 || p.DNS == 0 || p.Webhook == 0 || p.Console == 0 || p.ELB == 4566 {
		t.Errorf("slot 2 ports %+v: want free ports, not the well-known ones", p)
	}
	lo, hi := portBase+2*portsPerSlot, portBase+3*portsPerSlot
	all := []int{p.ELB, p.DNS, p.Webhook, p.Console}
	for _, port := range all {
		if port < lo || port >= hi {
			t.Errorf("slot 2 port %d outside the slot's range %d-%d (below the ephemeral ports)", port, lo, hi-1)
		}
	}
	if u := slices.Compact(slices.Sorted(slices.Values(all))); len(u) != len(all) {
		t.Errorf("slot 2 ports %+v: want four different ports", p)
	}
	again, err := loadPorts(path, 2)
	if err != nil || again != p {
		t.Errorf("second start: %+v %v, want the recorded %+v", again, err, p)
	}

	// A state dir from before the console keeps its ports and gets one
	// for the console, different from the others.
	old := ports{Slot: 2, ELB: p.ELB, DNS: p.DNS, Webhook: p.Webhook}
	b, _ := json.Marshal(old)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	upgraded, err := loadPorts(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if upgraded.ELB != p.ELB || upgraded.DNS != p.DNS || upgraded.Webhook != p.Webhook || upgraded.Console == 0 ||
		slices.Contains([]int{p.ELB, p.DNS, p.Webhook}, upgraded.Console) {
		t.Errorf("ports of an older state dir %+v became %+v", old, upgraded)
	}
	if again, err := loadPorts(path, 2); err != nil || again != upgraded {
		t.Errorf("the console's port was not recorded: %+v %v, want %+v", again, err, upgraded)
	}
}

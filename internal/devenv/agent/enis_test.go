package agent

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/devenv/podnet"
	elbec2 "github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/facts"
)

// localEC2 serves the local EC2 with the default cloud and the nodes as
// its m5.large instances, as elbow dev has them.
func localEC2(t *testing.T, nodes []Node) (*ec2.Client, *facts.Facts) {
	t.Helper()
	f := facts.Default(facts.DefaultRegion, "test")
	for _, n := range nodes {
		sub := ""
		for _, s := range f.Subnets {
			if !s.Public && s.AvailabilityZone == n.Zone {
				sub = s.ID
			}
		}
		f.Instances = append(f.Instances, facts.Instance{ID: n.InstanceID, SubnetID: sub, PrivateIP: n.IP.String(), InstanceType: InstanceType})
	}
	st := svctest.OpenStore(t)
	if err := elbec2.Bootstrap(context.Background(), st, f); err != nil {
		t.Fatal(err)
	}
	e := svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st}).API())
	return ec2.NewFromConfig(e.Config), f
}

// instanceAddresses returns, for each of the instance's interfaces by
// device index, its secondary addresses.
func instanceAddresses(t *testing.T, c *ec2.Client, instance string) [][]string {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{instance}})
	if err != nil {
		t.Fatal(err)
	}
	var ifs [][]string
	for _, n := range out.Reservations[0].Instances[0].NetworkInterfaces {
		var secondary []string
		for _, a := range n.PrivateIpAddresses {
			if !aws.ToBool(a.Primary) {
				secondary = append(secondary, aws.ToString(a.PrivateIpAddress))
			}
		}
		ifs = append(ifs, secondary)
	}
	return ifs
}

// interfaceFor finds the interface of an address as the AWS Load Balancer
// Controller does (DescribeNetworkInterfaces, filters vpc-id and
// addresses.private-ip-address) and returns the instance it is attached
// to.
func interfaceFor(t *testing.T, c *ec2.Client, vpc, ip string) (instance string, found int) {
	t.Helper()
	out, err := c.DescribeNetworkInterfaces(context.Background(), &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("addresses.private-ip-address"), Values: []string{ip}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range out.NetworkInterfaces {
		if n.Attachment != nil {
			instance = aws.ToString(n.Attachment.InstanceId)
		}
	}
	return instance, len(out.NetworkInterfaces)
}

// TestPodAddressesOnInterfaces runs the agent with EC2 as elbow dev does:
// every running pod's address is a secondary address of an interface of
// its node's instance (a second interface attached once the primary's nine
// are taken), found by DescribeInstances and DescribeNetworkInterfaces;
// it goes when the pod goes, also when the pod went while no agent ran.
func TestPodAddressesOnInterfaces(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(ctrltest.APIServer(t))
	ctx := context.Background()
	nodes := threeNodes()
	c, f := localEC2(t, nodes)
	vpc := f.VPCs[0].ID
	cfg := Config{Client: cs, Nodes: nodes, Addrs: testAddrs(t), ENIs: &podnet.Pool{EC2: c, ClusterName: "test"}}
	ag := startAgentConfig(t, cfg)
	ns := namespace(t, cs, "enis")
	node := nodes[0]

	// Twelve pods on one node: more than its primary interface's nine
	// secondary addresses.
	var names []string
	for i := range 12 {
		p := echoPod(ns, fmt.Sprintf("web-%d", i), tcpPort(8080))
		p.Spec.NodeName = node.Name
		create(t, cs, p)
		names = append(names, p.Name)
	}
	ips := map[string]string{}
	for _, name := range names {
		ips[name] = waitPod(t, cs, ns, name, runningReady).Status.PodIP
	}
	check := func(present []string, gone []string) {
		t.Helper()
		ctrltest.Eventually(t, 30*time.Second, func() error {
			var all []string
			for _, secondary := range instanceAddresses(t, c, node.InstanceID) {
				all = append(all, secondary...)
			}
			for _, name := range present {
				if !slices.Contains(all, ips[name]) {
					return fmt.Errorf("pod %s's address %s is not on instance %s (%v)", name, ips[name], node.InstanceID, all)
				}
				if inst, n := interfaceFor(t, c, vpc, ips[name]); n != 1 || inst != node.InstanceID {
					return fmt.Errorf("DescribeNetworkInterfaces for %s: %d interfaces, attached to %q; want one of %s", ips[name], n, inst, node.InstanceID)
				}
			}
			for _, name := range gone {
				if slices.Contains(all, ips[name]) {
					return fmt.Errorf("pod %s is gone but its address %s is still on instance %s", name, ips[name], node.InstanceID)
				}
				if _, n := interfaceFor(t, c, vpc, ips[name]); n != 0 {
					return fmt.Errorf("pod %s is gone but DescribeNetworkInterfaces still finds %s", name, ips[name])
				}
			}
			return nil
		})
	}
	check(names, nil)
	if ifs := instanceAddresses(t, c, node.InstanceID); len(ifs) != 2 || len(ifs[0]) != 9 || len(ifs[1]) != 3 {
		t.Fatalf("interfaces of the node's instance (secondary addresses): %v, want 9 on the primary and 3 on a second one", ifs)
	}

	// A host-network pod has the node's address; nothing is assigned.
	hn := echoPod(ns, "host", tcpPort(18080))
	hn.Spec.NodeName, hn.Spec.HostNetwork = node.Name, true
	create(t, cs, hn)
	if ip := waitPod(t, cs, ns, "host", runningReady).Status.PodIP; ip != node.IP.String() {
		t.Fatalf("host-network pod address %s, want the node's %s", ip, node.IP)
	}

	// Pods that go give their addresses back.
	for _, name := range names[:3] {
		if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
	}
	check(names[3:], names[:3])

	// A pod deleted while no agent runs: the next agent releases its
	// address; the others keep theirs.
	ag.stop(t)
	if err := cs.CoreV1().Pods(ns).Delete(ctx, names[3], metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	startAgentConfig(t, cfg)
	for _, name := range names[4:] {
		if got := waitPod(t, cs, ns, name, runningReady).Status.PodIP; got != ips[name] {
			t.Fatalf("pod %s has %s after the restart, had %s", name, got, ips[name])
		}
	}
	check(names[4:], names[:4])
}

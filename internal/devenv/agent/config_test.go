package agent

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Client: fake.NewClientset(), Nodes: threeNodes()}
	}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no client", func(c *Config) { c.Client = nil }, "Config.Client is required"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "at least one node is required"},
		{"no name", func(c *Config) { c.Nodes[0].Name = "" }, "node 0: Name is required"},
		{"twice", func(c *Config) { c.Nodes[1].Name = c.Nodes[0].Name }, "is configured twice"},
		{"no zone", func(c *Config) { c.Nodes[0].Zone = "" }, "Zone is required"},
		{"no instance", func(c *Config) { c.Nodes[0].InstanceID = "" }, "InstanceID is required"},
		{"bad subnet", func(c *Config) { c.Nodes[0].Subnet = netip.MustParsePrefix("10.0.128.1/19") }, "is not an IPv4 network prefix"},
		{"tiny subnet", func(c *Config) { c.Nodes[0].Subnet = netip.MustParsePrefix("10.0.128.0/30") }, "of /28 or larger"},
		{"IP outside", func(c *Config) { c.Nodes[0].IP = netip.MustParseAddr("10.0.0.10") }, "is not a usable address of its subnet 10.0.128.0/19"},
		{"reserved IP", func(c *Config) { c.Nodes[0].IP = netip.MustParseAddr("10.0.128.1") }, "AWS reserves the first four"},
		{"same IP", func(c *Config) { c.Nodes[1].Subnet, c.Nodes[1].IP = c.Nodes[0].Subnet, c.Nodes[0].IP }, "have the same IP 10.0.128.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mut(&c)
			err := c.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := good()
	if err := c.validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if c.Region != "us-east-1" || c.Logger == nil {
		t.Errorf("defaults: region %q logger %v", c.Region, c.Logger)
	}
}

package nlb_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// OpenFlows counts each target's open connections and forgets them once
// they close.
func TestOpenFlows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("open-flows", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("open-flows", "TCP", "ip", nil)
	b := e.backendIn(privateA, "one", true, false)
	e.register(tg, b)
	port := e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})
	key := state.TargetKey(tg, b.id, int32(b.port))

	// Other tests share the plane: look at this test's target group only.
	mine := func() map[string]int {
		out := map[string]int{}
		for k, n := range e.plane.OpenFlows() {
			if strings.HasPrefix(k, state.TargetGroupPrefix(tg)) {
				out[k] = n
			}
		}
		return out
	}
	if got := mine(); len(got) != 0 {
		t.Fatalf("before any connection: %v, want none", got)
	}
	var conns []net.Conn
	for range 3 {
		c, err := e.dial(netip.AddrPortFrom(l.addrs[zoneA], port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := hello(c); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	eventually(t, "three open flows", func() error {
		if got := mine(); got[key] != 3 || len(got) != 1 {
			return fmt.Errorf("open flows %v, want %s: 3", got, key)
		}
		return nil
	})
	for _, c := range conns {
		c.Close()
	}
	eventually(t, "no open flow", func() error {
		if got := mine(); len(got) != 0 {
			return fmt.Errorf("open flows %v after the clients closed, want none", got)
		}
		return nil
	})
}

package agent

import (
	"context"
	"net/netip"
	"time"
)

// eniTimeout bounds one EC2 change of a pod's address.
const eniTimeout = 30 * time.Second

// assign puts a pod's address on an interface of its node's instance
// (Config.ENIs), as the VPC CNI does before the pod's sandbox starts.
func (a *agent) assign(rt *podRuntime, ip netip.Addr) error {
	if a.enis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(rt.ctx, eniTimeout)
	defer cancel()
	return a.enis.Assign(ctx, rt.node.InstanceID, ip)
}

// unassign takes a stopped pod's address off its node's instance. It runs
// when the pod stops for good, also while the agent stops (the pod is
// gone either way), so it outlives the pod's and the agent's contexts.
func (a *agent) unassign(rt *podRuntime) {
	if a.enis == nil || !rt.ip.IsValid() || rt.ip == rt.node.IP {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), eniTimeout)
	defer cancel()
	if err := a.enis.Unassign(ctx, rt.node.InstanceID, rt.ip); err != nil {
		rt.log.Warn("could not take the pod's address off its node's network interface", "ip", rt.ip, "error", err)
	}
}

// releaseStrayAddresses takes off the nodes' instances the secondary
// addresses no live pod holds (pods that went while no agent ran). It runs
// once every pod's address is known.
func (a *agent) releaseStrayAddresses(ctx context.Context) {
	if a.enis == nil {
		return
	}
	for _, n := range a.order {
		keep := func(ip netip.Addr) bool {
			_, held := a.ips.holder(ip)
			return held
		}
		cctx, cancel := context.WithTimeout(ctx, eniTimeout)
		err := a.enis.Release(cctx, n.InstanceID, keep)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Warn("could not release the addresses of pods gone", "node", n.Name, "instance", n.InstanceID, "error", err)
		}
	}
}

package state

import (
	"fmt"
	"net/netip"
)

// The host address pools of the local ELB (docs/architecture.md,
// "Addresses").
var (
	// LoadBalancerPool holds the per-zone listen addresses of load balancers.
	LoadBalancerPool = netip.MustParsePrefix("127.77.0.0/16")
	// ElasticIPPool holds Elastic IP addresses.
	ElasticIPPool = netip.MustParsePrefix("127.78.0.0/16")
)

// AllocateLoopback hands out the next free address of pool to owner and
// records it. Addresses ending in .0 or .255 are skipped, and a released
// address is only handed out again after the rest of the pool, so that a
// client holding an old address does not reach a new load balancer.
func AllocateLoopback(tx *Tx, pool netip.Prefix, owner string) (netip.Addr, error) {
	if !tx.Writable() {
		return netip.Addr{}, ErrReadOnly
	}
	cursorKey := loopbackCursor(pool)
	start := pool.Addr().Next()
	if raw := tx.GetMeta(cursorKey); raw != nil {
		if a, err := netip.ParseAddr(string(raw)); err == nil && pool.Contains(a) {
			start = a
		}
	}
	size := 1 << (pool.Addr().BitLen() - pool.Bits())
	if pool.Addr().BitLen()-pool.Bits() > 24 {
		size = 1 << 24
	}
	a := start
	for i := 0; i < size; i++ {
		if !pool.Contains(a) {
			a = pool.Addr()
		}
		b := a.As16()
		last := b[15]
		if last != 0 && last != 255 {
			_, taken, err := Get(tx, LoopbackAllocations, a.String())
			if err != nil {
				return netip.Addr{}, err
			}
			if !taken {
				if err := Put(tx, LoopbackAllocations, &LoopbackAllocation{Address: a.String(), Pool: pool.String(), Owner: owner}); err != nil {
					return netip.Addr{}, err
				}
				if err := tx.PutMeta(cursorKey, []byte(a.Next().String())); err != nil {
					return netip.Addr{}, err
				}
				return a, nil
			}
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("address pool %s is exhausted", pool)
}

// SeedLoopback makes the next allocation from pool start at start (or
// after it, if taken). Processes that each run a local ELB of their own
// seed their pools at different places, so that their load balancers do
// not get the same addresses.
func SeedLoopback(tx *Tx, pool netip.Prefix, start netip.Addr) error {
	if !pool.Contains(start) {
		return fmt.Errorf("seed address %s is outside the pool %s", start, pool)
	}
	return tx.PutMeta(loopbackCursor(pool), []byte(start.String()))
}

// loopbackCursor is the meta key of the next address to try in a pool.
func loopbackCursor(pool netip.Prefix) string { return "loopback.next." + pool.String() }

// ReleaseLoopback returns an address to its pool.
func ReleaseLoopback(tx *Tx, addr string) error {
	_, err := Delete(tx, LoopbackAllocations, addr)
	return err
}

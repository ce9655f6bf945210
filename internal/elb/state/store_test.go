package state

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestPutGetListDeleteAndReopen(t *testing.T) {
	s, dir := openTemp(t)
	ctx := context.Background()
	tg := &TargetGroup{ARN: "arn:tg/a", Name: "a", Port: 80, Attributes: map[string]string{"k": "v"}}
	rule := &Rule{ARN: "arn:rule/1", ListenerARN: "arn:l", Priority: 3, Actions: []elbv2types.Action{{
		Type:           elbv2types.ActionTypeEnumForward,
		TargetGroupArn: aws.String("arn:tg/a"),
	}}}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := Put(tx, TargetGroups, tg); err != nil {
			return err
		}
		for _, id := range []string{"10.0.0.2", "10.0.0.1"} {
			if err := Put(tx, Targets, &Target{TargetGroupARN: tg.ARN, ID: id, Port: 80}); err != nil {
				return err
			}
		}
		if err := Put(tx, Targets, &Target{TargetGroupARN: "arn:tg/ab", ID: "10.0.0.9", Port: 80}); err != nil {
			return err
		}
		return Put(tx, Rules, rule)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx *Tx) error {
		got, ok, err := Get(tx, TargetGroups, "arn:tg/a")
		if err != nil || !ok || got.Attributes["k"] != "v" {
			t.Errorf("Get after reopen = %+v, %v, %v", got, ok, err)
		}
		ts, err := ListPrefix(tx, Targets, TargetGroupPrefix("arn:tg/a"))
		if err != nil || len(ts) != 2 || ts[0].ID != "10.0.0.1" {
			t.Errorf("targets of arn:tg/a = %+v, %v (want 10.0.0.1 then 10.0.0.2, not arn:tg/ab's)", ts, err)
		}
		r, _, _ := Get(tx, Rules, "arn:rule/1")
		if r == nil || aws.ToString(r.Actions[0].TargetGroupArn) != "arn:tg/a" {
			t.Errorf("rule actions did not round-trip: %+v", r)
		}
		if tx.Revision() != 1 {
			t.Errorf("revision = %d, want 1", tx.Revision())
		}
		if err := Put(tx, TargetGroups, tg); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Put in View = %v, want ErrReadOnly", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if lbs := snap.LoadBalancersOfTargetGroup("arn:tg/a"); len(lbs) != 0 {
		t.Errorf("target group without listener is used by %v", lbs)
	}
	if len(snap.TargetsOf("arn:tg/a")) != 2 {
		t.Errorf("snapshot targets = %d, want 2", len(snap.TargetsOf("arn:tg/a")))
	}
}

func TestFailedUpdateKeepsNothing(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := Put(tx, VPCs, &VPC{ID: "vpc-1"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = s.View(func(tx *Tx) error {
		if _, ok, _ := Get(tx, VPCs, "vpc-1"); ok {
			t.Error("a failed update left its write behind")
		}
		if tx.Revision() != 0 {
			t.Errorf("revision moved to %d on a failed update", tx.Revision())
		}
		return nil
	})
}

func TestSubscribeCoalesces(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ch, cancel := s.Subscribe()
	for i := 0; i < 3; i++ {
		if err := s.Update(context.Background(), func(tx *Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	<-ch
	select {
	case <-ch:
		t.Error("three commits gave more than one pending notification")
	default:
	}
	cancel()
	if _, open := <-ch; open {
		t.Error("channel still open after cancel")
	}
}

func TestAllocateLoopback(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	pool := netip.MustParsePrefix("127.99.0.0/30") // .1 and .2 usable (.0, .3 are not .0/.255 but .0 is)
	var got []netip.Addr
	err := s.Update(context.Background(), func(tx *Tx) error {
		for i := 0; i < 3; i++ {
			a, err := AllocateLoopback(tx, pool, "owner")
			if err != nil {
				return err
			}
			got = append(got, a)
		}
		if _, err := AllocateLoopback(tx, pool, "owner"); err == nil {
			t.Error("allocated from an exhausted pool")
		}
		if err := ReleaseLoopback(tx, got[0].String()); err != nil {
			return err
		}
		a, err := AllocateLoopback(tx, pool, "again")
		if err != nil {
			return err
		}
		if a != got[0] {
			t.Errorf("after release got %s, want the released %s", a, got[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.99.0.1", "127.99.0.2", "127.99.0.3"}
	for i, a := range got {
		if a.String() != want[i] {
			t.Errorf("allocation %d = %s, want %s", i, a, want[i])
		}
	}
}

func TestSeedLoopback(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	pool := netip.MustParsePrefix("127.99.0.0/24")
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := SeedLoopback(tx, pool, netip.MustParseAddr("127.98.0.1")); err == nil {
			t.Error("seeded a pool with an address outside it")
		}
		if err := SeedLoopback(tx, pool, netip.MustParseAddr("127.99.0.40")); err != nil {
			return err
		}
		a, err := AllocateLoopback(tx, pool, "owner")
		if err != nil {
			return err
		}
		if a.String() != "127.99.0.40" {
			t.Errorf("first allocation after the seed = %s, want 127.99.0.40", a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package ctrltest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestWorkload checks the stand-ins for kubelet and the EndpointSlice
// controller: backends answer on their mapped address, pods turn Ready,
// the slice lists them, a deleted pod turns terminating while its backend
// still serves, then leaves the slice.
func TestWorkload(t *testing.T) {
	cfg := APIServer(t)
	c := Client(t, cfg)
	ctx := context.Background()
	Node(t, c, "node-a", "us-east-1a", "i-0123456789abcdef0", nil)
	w := NewWorkload(t, c, "default", "web", map[string]string{"app": "web"}, "http", 8080, "node-a")
	a := w.AddPod("web-a")
	w.AddPod("web-b")
	w.Run()

	resp, err := http.Get("http://" + a.Addr.String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "web-a /x\n" {
		t.Errorf("backend answered %q", body)
	}
	if !strings.HasPrefix(a.Addr.Addr().String(), "127.10.") || !strings.HasPrefix(a.IP.String(), "10.0.") {
		t.Errorf("backend %s listens on %s", a.IP, a.Addr)
	}
	slice := func() (map[string]discoveryv1.EndpointConditions, error) {
		s := &discoveryv1.EndpointSlice{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-elbowtest"}, s); err != nil {
			return nil, err
		}
		out := map[string]discoveryv1.EndpointConditions{}
		for _, e := range s.Endpoints {
			out[e.TargetRef.Name] = e.Conditions
		}
		return out, nil
	}
	Eventually(t, 10*time.Second, func() error {
		eps, err := slice()
		if err != nil {
			return err
		}
		if len(eps) != 2 || !*eps["web-a"].Ready || !*eps["web-b"].Ready {
			return fmt.Errorf("endpoints %v", eps)
		}
		p := &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-a"}, p); err != nil {
			return err
		}
		if p.Status.PodIP != a.IP.String() {
			return fmt.Errorf("pod IP %q", p.Status.PodIP)
		}
		return nil
	})
	done := make(chan struct{})
	go func() { w.DeletePod("web-a", time.Second); close(done) }()
	Eventually(t, 10*time.Second, func() error {
		eps, err := slice()
		if err != nil {
			return err
		}
		if e, ok := eps["web-a"]; !ok || !*e.Terminating || *e.Ready {
			return fmt.Errorf("web-a not terminating: %v", eps)
		}
		return nil
	})
	if _, err := http.Get("http://" + a.Addr.String() + "/during-prestop"); err != nil {
		t.Errorf("backend stopped before its preStop pause ended: %v", err)
	}
	<-done
	eps, err := slice()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := eps["web-a"]; ok || len(eps) != 1 {
		t.Errorf("after deletion: %v", eps)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-a"}, &corev1.Pod{}); err == nil {
		t.Error("pod web-a still exists")
	}
}

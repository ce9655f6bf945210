package devenv

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

func (e *Env) baseReport() *Report {
	rep := &Report{
		Controller:  e.cfg.Controller,
		ELBEndpoint: e.elb.URL(),
		DNSServer:   e.elb.DNSAddr(),
		Console:     e.elb.ConsoleURL(),
		Kubeconfig:  filepath.Join(e.cfg.StateDir, "kubeconfig"),
		Settings:    e.settings(e.cloud.VPCs[0].ID, e.cloud.AccountID),
	}
	for _, n := range e.nodes {
		rep.Nodes = append(rep.Nodes, NodeInfo{
			Name: n.Name, Zone: n.Zone, InstanceID: n.InstanceID,
			IP: n.IP.String(), HostIP: e.addrs.ToHost(n.IP).String(),
		})
	}
	return rep
}

// writeEndpoints writes STATE/endpoints.json atomically.
func (e *Env) writeEndpoints(rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(e.cfg.StateDir, "endpoints.json")
	tmp := path + ".tmp"
	// It holds the local ELB's credentials: for the user only.
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printReport prints each load balancer with its addresses, listeners and
// a command per listener, then what is not served and why.
func (e *Env) printReport(rep *Report) {
	w := e.out
	if len(rep.LoadBalancers) == 0 && len(rep.NotServed) == 0 {
		fmt.Fprintln(w, "\nNo load balancer: the files have no Ingress of class alb and no NLB Service.")
	}
	for _, lb := range rep.LoadBalancers {
		var objs []string
		for _, o := range lb.Objects {
			objs = append(objs, o.String())
		}
		kind := map[string]string{"application": "ALB", "network": "NLB"}[lb.Type]
		if kind == "" {
			kind = lb.Type
		}
		fmt.Fprintf(w, "\n%s %s (%s) for %s\n", kind, lb.Name, lb.Scheme, strings.Join(objs, ", "))
		fmt.Fprintf(w, "  DNS name   %s\n", lb.DNSName)
		var addrs []string
		for _, a := range lb.Addresses {
			addrs = append(addrs, fmt.Sprintf("%s (%s)", a.IP, a.Zone))
		}
		fmt.Fprintf(w, "  addresses  %s\n", strings.Join(addrs, ", "))
		if len(lb.Hosts) > 0 {
			fmt.Fprintf(w, "  hosts      %s\n", strings.Join(lb.Hosts, ", "))
		}
		for _, l := range lb.Listeners {
			fmt.Fprintf(w, "  %-10s %s\n", fmt.Sprintf("%s:%d", l.Protocol, l.Port), l.Command)
			if l.Check != "" {
				fmt.Fprintf(w, "  %-10s checked: %s\n", "", l.Check)
			}
		}
		for _, warn := range lb.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		if !lb.Serving {
			fmt.Fprintf(w, "  NOT SERVING YET: %s\n", strings.Join(lb.Problems, "; "))
		}
	}
	for _, n := range rep.NotServed {
		fmt.Fprintf(w, "\n%s: no load balancer: %s\n", n.Object, n.Reason)
	}
	if rep.DNSServer != "" && len(rep.LoadBalancers) > 0 {
		if ap, err := netip.ParseAddrPort(rep.DNSServer); err == nil {
			fmt.Fprintf(w, "\nDNS names resolve with: dig @%s -p %d +short %s\n", ap.Addr(), ap.Port(), rep.LoadBalancers[0].DNSName)
		}
	}
}

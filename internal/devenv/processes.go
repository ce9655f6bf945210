package devenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// With Config.Processes the local ELB and the controller run as child
// processes of the elbow binary (`elbow elb`, `elbow controller`), each
// started again whenever it exits, as a supervisor would, until the
// environment stops. Their process IDs are in STATE/processes.json (and
// change at every start), their logs in STATE/logs/elb.log and
// STATE/logs/controller.log. Tests kill them there (test/e2e's chaos
// test).

// ProcessesFile is the file, in the state directory, naming the child
// processes' IDs by component ("elb", "controller").
const ProcessesFile = "processes.json"

// restartDelay is the pause before a child that exited starts again; it
// doubles (up to maxRestartDelay) while children exit within
// stableAfter of their start.
const (
	restartDelay    = 100 * time.Millisecond
	maxRestartDelay = 5 * time.Second
	stableAfter     = 10 * time.Second
	// stopGrace is how long a child has to end after SIGTERM.
	stopGrace = 30 * time.Second
)

// children are the supervised child processes and their current IDs.
type children struct {
	path string // STATE/processes.json
	mu   sync.Mutex
	pids map[string]int
}

func (c *children) set(name string, pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pids == nil {
		c.pids = map[string]int{}
	}
	c.pids[name] = pid
	b, _ := json.MarshalIndent(c.pids, "", "  ")
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
		_ = os.Rename(tmp, c.path)
	}
}

// ReadProcesses returns the child processes' IDs of an environment run
// with Config.Processes, by component.
func ReadProcesses(stateDir string) (map[string]int, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, ProcessesFile))
	if err != nil {
		return nil, err
	}
	var pids map[string]int
	if err := json.Unmarshal(b, &pids); err != nil {
		return nil, fmt.Errorf("%s: %w", ProcessesFile, err)
	}
	return pids, nil
}

// supervise runs the elbow binary with args as component name until the
// environment stops, starting it again whenever it exits; its output
// goes to STATE/logs/NAME.log.
func (e *Env) supervise(ctx context.Context, name string, args, env []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: the elbow binary: %w", name, err)
	}
	logs := filepath.Join(e.cfg.StateDir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	start := func() (*exec.Cmd, error) {
		cmd := exec.Command(self, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		// the child dies with this process, whatever ends it
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e.procs.set(name, cmd.Process.Pid)
		return cmd, nil
	}
	cmd, err := start()
	if err != nil {
		logFile.Close()
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var mu sync.Mutex // guards cmd
	go func() {
		defer close(done)
		defer logFile.Close()
		delay := restartDelay
		for {
			mu.Lock()
			c := cmd
			mu.Unlock()
			started := time.Now()
			werr := c.Wait()
			if cctx.Err() != nil {
				return
			}
			e.log.Warn("component exited; starting it again", "component", name, "pid", c.Process.Pid, "status", fmt.Sprint(werr), "after", delay)
			if time.Since(started) > stableAfter {
				delay = restartDelay
			}
			select {
			case <-cctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRestartDelay)
			next, err := start()
			if err != nil {
				e.log.Error("component cannot start", "component", name, "error", err)
				continue
			}
			mu.Lock()
			cmd = next
			mu.Unlock()
		}
	}()
	e.onStop(name, func() {
		cancel()
		mu.Lock()
		c := cmd
		mu.Unlock()
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopGrace):
			_ = c.Process.Kill()
			<-done
		}
	})
	return nil
}

// startELBProcess runs the local ELB as a child process on the state's
// facts, seeding the address pools of a new state first.
func (e *Env) startELBProcess(ctx context.Context, f *facts.Facts) error {
	elbDir := filepath.Join(e.cfg.StateDir, "elb")
	if !exists(filepath.Join(elbDir, state.FileName)) {
		st, err := state.Open(elbDir)
		if err != nil {
			return err
		}
		err = e.seedPools(ctx, st)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("facts: %w", err)
	}
	factsFile := filepath.Join(e.cfg.StateDir, "facts.yaml")
	if err := os.WriteFile(factsFile, b, 0o600); err != nil {
		return err
	}
	listen := "127.0.0.1:" + strconv.Itoa(e.ports.ELB)
	dns := "127.0.0.1:" + strconv.Itoa(e.ports.DNS)
	console := "127.0.0.1:" + strconv.Itoa(e.ports.Console)
	args := []string{"elb", "--listen", listen, "--dns-listen", dns, "--console-listen", console,
		"--state-dir", elbDir, "--facts", factsFile, "--auto-provision-references", "--log-format", "json"}
	// the development credentials, whatever the caller's environment says
	if err := e.supervise(ctx, "elb", args, []string{"ELBOW_ACCESS_KEY_ID=", "ELBOW_SECRET_ACCESS_KEY="}); err != nil {
		return err
	}
	e.elb = localELB{url: "http://" + listen, dnsAddr: dns, consoleURL: "http://" + console + "/",
		accessKeyID: server.DefaultAccessKeyID, secretAccessKey: server.DefaultSecretAccessKey}
	return waitTCP(ctx, listen, time.Minute)
}

// startControllerProcess runs the controller as a child process, with the
// options startController gives the in-process one.
func (e *Env) startControllerProcess(ctx context.Context, elbURL string) error {
	port := strconv.Itoa(e.ports.Webhook)
	args := []string{"controller",
		"--kubeconfig", filepath.Join(e.cfg.StateDir, "kubeconfig"),
		"--cluster-name", e.cfg.ClusterName, "--aws-region", e.cfg.Region, "--elb-endpoint", elbURL,
		"--auto-provision-references", "--enable-leader-election=false",
		"--metrics-bind-addr", "0", "--health-probe-bind-addr", "0",
		"--webhook-bind-host", "127.0.0.1", "--webhook-bind-port", port,
		"--webhook-cert-dir", e.webhookCertDir(), "--webhook-url", e.webhookURL(),
		"--cloud-facts-refresh", "30s", "--log-format", "json"}
	ak, sk := e.elb.Credentials()
	if err := e.supervise(ctx, "controller", args, []string{"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk}); err != nil {
		return err
	}
	return waitTLS(ctx, "127.0.0.1:"+port, time.Minute)
}

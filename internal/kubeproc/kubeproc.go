// Package kubeproc runs a real Kubernetes control plane from the binaries
// that `make tools` builds into bin/: etcd, kube-apiserver and, optionally,
// kube-controller-manager. State (etcd data, certificates, the ports chosen
// at first start, logs, the kubeconfig) lives in a data directory, so a
// control plane stopped and started again on the same directory comes back
// with its objects and the same kubeconfig. `elbow dev` uses it; tests use
// it through a temporary directory.
package kubeproc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultServiceCIDR is the Services' ClusterIP range: outside the local
// VPC (10.0.0.0/16), as on EKS, so ClusterIPs never look like VPC addresses.
const DefaultServiceCIDR = "172.20.0.0/16"

// DefaultControllers are the kube-controller-manager controllers a
// kubelet-less cluster needs for Deployments, DaemonSets, Services and namespaces.
var DefaultControllers = []string{
	"deployment-controller", "replicaset-controller", "daemonset-controller", "endpointslice-controller",
	"endpointslice-mirroring-controller", "namespace-controller", "garbage-collector-controller",
	"serviceaccount-controller", "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
}

// Config describes a control plane.
type Config struct {
	// BinDir holds etcd, kube-apiserver and kube-controller-manager.
	BinDir string
	// DataDir keeps everything that must survive a restart.
	DataDir string
	// ServiceCIDR defaults to DefaultServiceCIDR.
	ServiceCIDR string
	// ControllerManager starts kube-controller-manager with Controllers
	// (DefaultControllers when empty).
	ControllerManager bool
	Controllers       []string
	// FastEtcd trades durability for speed (etcd --unsafe-no-fsync): for
	// tests, never for state a user keeps.
	FastEtcd bool
	Logger   *slog.Logger
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// REST is an admin client configuration.
	REST *rest.Config
	// URL is the API server's address.
	URL string

	procs []*proc
	log   *slog.Logger
}

type ports struct {
	Etcd     int `json:"etcd"`
	EtcdPeer int `json:"etcdPeer"`
	API      int `json:"apiServer"`
	KCM      int `json:"controllerManager"`
}

// Start starts etcd, then kube-apiserver (and kube-controller-manager),
// and returns once the API server is ready. On failure everything started
// is stopped and the error names the process and its log file.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if len(cfg.Controllers) == 0 {
		cfg.Controllers = DefaultControllers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if b == "kube-controller-manager" && !cfg.ControllerManager {
			continue
		}
		if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s: run `make tools` first", b, cfg.BinDir)
		}
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"etcd", "logs"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	p, err := loadPorts(filepath.Join(dataDir, "ports.json"))
	if err != nil {
		return nil, err
	}
	serviceIP, err := firstServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	certs := certDir{dir: filepath.Join(dataDir, "pki")}
	if err := certs.ensure(serviceIP); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	cp := &ControlPlane{
		Kubeconfig: filepath.Join(dataDir, "kubeconfig"),
		URL:        fmt.Sprintf("https://127.0.0.1:%d", p.API),
		log:        cfg.Logger,
	}
	ok := false
	defer func() {
		if !ok {
			cp.Stop()
		}
	}()

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", p.Etcd)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", p.EtcdPeer)
	etcdArgs := []string{
		"--name=default",
		"--data-dir=" + filepath.Join(dataDir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--log-level=warn",
	}
	if cfg.FastEtcd {
		etcdArgs = append(etcdArgs, "--unsafe-no-fsync")
	}
	if err := cp.start(ctx, cfg.BinDir, dataDir, "etcd", etcdArgs, func(ctx context.Context) error {
		return httpReady(ctx, http.DefaultClient, etcdURL+"/health")
	}); err != nil {
		return nil, err
	}

	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.API),
		"--tls-cert-file=" + certs.path("apiserver.crt"), "--tls-private-key-file=" + certs.path("apiserver.key"),
		"--client-ca-file=" + certs.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + certs.path("sa.pub"),
		"--service-account-signing-key-file=" + certs.path("sa.key"),
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// The API server's own endpoint (127.0.0.1) is not a valid
		// EndpointSlice address; nothing here needs the kubernetes Service's
		// endpoints.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	if !cfg.ControllerManager {
		// No service account controller creates namespaces' default
		// service accounts: pods must not wait for them.
		apiArgs = append(apiArgs, "--disable-admission-plugins=ServiceAccount")
	}
	if err := cp.writeKubeconfig(certs); err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cp.REST = rc
	readyClient, err := adminHTTPClient(certs)
	if err != nil {
		return nil, err
	}
	if err := cp.start(ctx, cfg.BinDir, dataDir, "kube-apiserver", apiArgs, func(ctx context.Context) error {
		return httpReady(ctx, readyClient, cp.URL+"/readyz")
	}); err != nil {
		return nil, err
	}

	if cfg.ControllerManager {
		kcmArgs := []string{
			"--kubeconfig=" + cp.Kubeconfig,
			"--authentication-kubeconfig=" + cp.Kubeconfig,
			"--authorization-kubeconfig=" + cp.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(p.KCM),
			"--leader-elect=false",
			"--controllers=" + strings.Join(cfg.Controllers, ","),
			"--service-account-private-key-file=" + certs.path("sa.key"),
			"--root-ca-file=" + certs.path("ca.crt"),
			"--service-cluster-ip-range=" + cfg.ServiceCIDR,
			"--use-service-account-credentials=false",
			"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
			"--concurrent-service-endpoint-syncs=10",
		}
		insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // its own self-signed serving cert
		if err := cp.start(ctx, cfg.BinDir, dataDir, "kube-controller-manager", kcmArgs, func(ctx context.Context) error {
			return httpReady(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", p.KCM))
		}); err != nil {
			return nil, err
		}
	}
	ok = true
	return cp, nil
}

// Stop stops the processes in reverse order: SIGTERM, then SIGKILL after
// ten seconds. It is safe to call more than once.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].stop()
	}
	cp.procs = nil
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (cp *ControlPlane) start(ctx context.Context, binDir, dataDir, name string, args []string, ready func(context.Context) error) error {
	logPath := filepath.Join(dataDir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Die with us: a crashed or killed parent leaves no control plane behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	cp.procs = append(cp.procs, p)
	cp.log.Info("started", "process", name, "pid", cmd.Process.Pid, "log", logPath)

	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	readyErr := make(chan error, 1)
	go func() { readyErr <- ready(waitCtx) }()
	select {
	case err := <-readyErr:
		if err != nil {
			return fmt.Errorf("%s did not become ready: %w (see %s)%s", name, err, logPath, logTail(logPath))
		}
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited during start: %v (see %s)%s", name, p.err, logPath, logTail(logPath))
	}
}

// logTail returns the last lines of a log file, indented, for errors.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return ":\n    " + strings.Join(lines, "\n    ")
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func httpReady(ctx context.Context, c *http.Client, url string) error {
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func adminHTTPClient(certs certDir) (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(certs.path("admin.crt"), certs.path("admin.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(certs.path("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12,
	}}}, nil
}

func (cp *ControlPlane) writeKubeconfig(certs certDir) error {
	read := func(n string) (string, error) {
		b, err := os.ReadFile(certs.path(n))
		return string(b), err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read("admin.crt")
	if err != nil {
		return err
	}
	key, err := read("admin.key")
	if err != nil {
		return err
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: elbow
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: elbow-admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: elbow
  context: {cluster: elbow, user: elbow-admin}
current-context: elbow
`, cp.URL, base64Std(ca), base64Std(crt), base64Std(key))
	return os.WriteFile(cp.Kubeconfig, []byte(kc), 0o600)
}

// loadPorts returns the ports recorded at the first start, choosing and
// recording free ones when there are none yet.
func loadPorts(path string) (ports, error) {
	var p ports
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &p); err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		for name, port := range map[string]int{"etcd": p.Etcd, "etcd peer": p.EtcdPeer, "kube-apiserver": p.API, "kube-controller-manager": p.KCM} {
			if !portFree(port) {
				return p, fmt.Errorf("port %d (%s, recorded in %s) is in use: is another control plane running on this data dir?", port, name, path)
			}
		}
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return p, err
	}
	free, err := freePorts(4)
	if err != nil {
		return p, err
	}
	p = ports{Etcd: free[0], EtcdPeer: free[1], API: free[2], KCM: free[3]}
	b, _ := json.MarshalIndent(p, "", "  ")
	return p, os.WriteFile(path, b, 0o600)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return nil, fmt.Errorf("service CIDR %q: want an IPv4 CIDR such as %s", cidr, DefaultServiceCIDR)
	}
	ip := append(net.IP(nil), n.IP.To4()...)
	ip[3]++
	return ip, nil
}

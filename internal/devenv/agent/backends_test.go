package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	grpcutil "sigs.k8s.io/gateway-api/conformance/utils/grpc"
	confk8s "sigs.k8s.io/gateway-api/conformance/utils/kubernetes"
	tcputil "sigs.k8s.io/gateway-api/conformance/utils/tcp"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/devenv/echobasic"
)

const echoBasicImage = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"

// echoBasicPod is a pod as the conformance suite's manifests write them:
// echo-basic with POD_NAME and NAMESPACE from fieldRefs, no ports.
func echoBasicPod(ns, name string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "backend", Image: echoBasicImage,
			Env: append([]corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			}, env...),
		}}},
	}
}

// withSecretVolume mounts the Secret's tls.crt and tls.key at
// /etc/secret-volume/crt and key, as the suite's TLS backends do.
func withSecretVolume(p *corev1.Pod, secret string) *corev1.Pod {
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "secret-volume", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "crt"}, {Key: "tls.key", Path: "key"}},
	}}})
	p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "secret-volume", MountPath: "/etc/secret-volume"})
	return p
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// waitingWith accepts a pending pod whose one container waits with reason
// (and a message containing msg).
func waitingWith(reason, msg string) func(*corev1.Pod) error {
	return func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 {
			return fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		if w == nil || w.Reason != reason || !strings.Contains(w.Message, msg) {
			return fmt.Errorf("container state %+v, want waiting %s with %q", p.Status.ContainerStatuses[0].State, reason, msg)
		}
		return nil
	}
}

// event waits for a Warning event of the pod with that reason and message.
func event(t *testing.T, cs kubernetes.Interface, ns, pod, reason, msg string) {
	t.Helper()
	ctrltest.Eventually(t, 30*time.Second, func() error {
		list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String()})
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Reason == reason && e.Type == corev1.EventTypeWarning && e.Message == msg {
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return fmt.Errorf("no %s event %q among %q", reason, msg, seen)
	})
}

// TestConformanceBackends runs the conformance suite's backends as its
// manifests write them: echo-basic in its HTTP, gRPC, TCP and UDP modes,
// with env from fieldRefs and Secrets and the TLS certificate from a
// Secret volume; a missing Secret holds the pod in ContainerCreating.
func TestConformanceBackends(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(ctrltest.APIServer(t))
	ctx := context.Background()
	addrs := testAddrs(t)
	ag := startAgent(t, cs, threeNodes(), addrs)
	ns := namespace(t, cs, "gateway-conformance-infra")
	secret := confk8s.MustCreateSelfSignedCertSecret(t, ns, "tls-checks-certificate", []string{"abc.example.com"})

	t.Run("TLS backend waits for its Secret", func(t *testing.T) {
		p := withSecretVolume(echoBasicPod(ns, "tls-backend-abc12", env("TLS_SERVER_CERT", "/etc/secret-volume/crt"), env("TLS_SERVER_PRIVKEY", "/etc/secret-volume/key")), secret.Name)
		create(t, cs, p)
		waitPod(t, cs, ns, p.Name, waitingWith("ContainerCreating", ""))
		event(t, cs, ns, p.Name, "FailedMount", `MountVolume.SetUp failed for volume "secret-volume" : secret "tls-checks-certificate" not found`)
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPod(t, cs, ns, p.Name, runningReady)

		// HTTP on 3000 names the pod from its fieldRefs; HTTPS on 8443
		// serves the Secret's certificate.
		a, err := get(hostAddr(addrs, got.Status.PodIP, 3000))
		if err != nil || a.Pod != p.Name || a.Namespace != ns {
			t.Fatalf("HTTP answer %+v, %v", a, err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(secret.Data["tls.crt"])
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "abc.example.com"}}}
		resp, err := c.Get("https://" + hostAddr(addrs, got.Status.PodIP, 8443).String() + "/x")
		if err != nil {
			t.Fatalf("HTTPS with the Secret's certificate as root: %v", err)
		}
		var ans echobasic.Answer
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || ans.TLS == nil || ans.TLS.ServerName != "abc.example.com" || ans.Pod != p.Name {
			t.Errorf("HTTPS answer %+v, %v", ans, err)
		}

		// The Secret changes: the volume's file follows, as the
		// kubelet's would.
		other := confk8s.MustCreateSelfSignedCertSecret(t, ns, secret.Name, []string{"other.example.com"})
		upd, err := cs.CoreV1().Secrets(ns).Get(ctx, secret.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		upd.Data = other.Data
		if _, err := cs.CoreV1().Secrets(ns).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		crt := filepath.Join(ag.volumeDir(got, "secret-volume"), "crt")
		ctrltest.Eventually(t, 30*time.Second, func() error {
			b, err := os.ReadFile(crt)
			if err != nil {
				return err
			}
			if string(b) != string(other.Data["tls.crt"]) {
				return fmt.Errorf("%s still holds the old certificate", crt)
			}
			return nil
		})

		// The pod goes: so do its volumes.
		if err := cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		ctrltest.Eventually(t, 30*time.Second, func() error {
			if _, err := os.Stat(ag.podDir(got)); !os.IsNotExist(err) {
				return fmt.Errorf("pod directory still there (%v)", err)
			}
			return nil
		})
	})

	t.Run("env from a Secret key", func(t *testing.T) {
		p := echoBasicPod(ns, "svc-named", corev1.EnvVar{Name: "SERVICE_NAME", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "names"}, Key: "service",
		}}})
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, env("UDP_ECHO_SERVER", "1"))
		create(t, cs, p)
		waitPod(t, cs, ns, p.Name, waitingWith("CreateContainerConfigError", `secret "names" not found`))
		event(t, cs, ns, p.Name, "Failed", `Error: secret "names" not found`)
		names := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "names"}, Data: map[string][]byte{"other": []byte("x")}}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, names, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, ns, p.Name, waitingWith("CreateContainerConfigError", "couldn't find key service in Secret gateway-conformance-infra/names"))
		names.Data["service"] = []byte("udp-backend-v1")
		if _, err := cs.CoreV1().Secrets(ns).Update(ctx, names, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitPod(t, cs, ns, p.Name, runningReady)
		// UDP mode on 8080 though the pod declares no port.
		c, err := net.Dial("udp", hostAddr(addrs, got.Status.PodIP, 8080).String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var ans echobasic.UDPAnswer
		ctrltest.Eventually(t, 10*time.Second, func() error {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("probe")); err != nil {
				return err
			}
			buf := make([]byte, 2048)
			n, err := c.Read(buf)
			if err != nil {
				return err
			}
			return json.Unmarshal(buf[:n], &ans)
		})
		if ans.Service != "udp-backend-v1" || ans.Pod != p.Name || ans.Namespace != ns || ans.Request != "probe" {
			t.Errorf("UDP answer %+v", ans)
		}
	})

	t.Run("gRPC backend", func(t *testing.T) {
		p := echoBasicPod(ns, "grpc-infra-backend-v1-x1", env("GRPC_ECHO_SERVER", "1"))
		create(t, cs, p)
		got := waitPod(t, cs, ns, p.Name, runningReady)
		c := &grpcutil.DefaultClient{}
		defer c.Close()
		resp, err := c.SendRPC(t, hostAddr(addrs, got.Status.PodIP, 3000).String(), grpcutil.ExpectedResponse{EchoRequest: &pb.EchoRequest{}}, 5*time.Second)
		if err != nil || resp.Code != codes.OK {
			t.Fatalf("Echo: %v, %v", err, resp.Code)
		}
		if pc := resp.Response.GetAssertions().GetContext(); pc.GetPod() != p.Name || pc.GetNamespace() != ns {
			t.Errorf("context %v", pc)
		}
	})

	t.Run("TCP backend", func(t *testing.T) {
		passthrough := confk8s.MustCreateSelfSignedCertSecret(t, ns, "tls-passthrough-checks-certificate", []string{"abc.example.com"})
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, passthrough, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := withSecretVolume(echoBasicPod(ns, "tcp-backend-z9", env("TCP_ECHO_SERVER", "1"),
			env("TLS_SERVER_CERT", "/etc/secret-volume/crt"), env("TLS_SERVER_PRIV_KEY", "/etc/secret-volume/key")), passthrough.Name)
		create(t, cs, p)
		got := waitPod(t, cs, ns, p.Name, runningReady)
		timeouts := tcpTimeouts()
		tcputil.MakeTCPRequestAndExpectEventuallyValidResponse(t, timeouts, hostAddr(addrs, got.Status.PodIP, 3000).String(), nil, "", false,
			tcputil.ExpectedResponse{Backend: "tcp-backend", Namespace: ns})
		tcputil.MakeTCPRequestAndExpectEventuallyValidResponse(t, timeouts, hostAddr(addrs, got.Status.PodIP, 8443).String(), passthrough.Data["tls.crt"], "abc.example.com", true,
			tcputil.ExpectedResponse{BackendIsTLS: true, Backend: "tcp-backend", Namespace: ns, Hostname: "abc.example.com"})
	})

	t.Run("CoreDNS from a ConfigMap", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "coredns"}, Data: map[string]string{
			"Corefile": ".:53 {\n    forward . 8.8.8.8 9.9.9.9\n    log\n    errors\n}\nfoo.bar.com:53 {\n  whoami\n}\n",
		}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "coredns-5d8f"},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.12.2", Args: []string{"-conf", "/root/Corefile"},
					VolumeMounts: []corev1.VolumeMount{{MountPath: "/root", Name: "conf"}},
				}},
				Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"}, DefaultMode: ptr.To[int32](420),
				}}}},
			},
		}
		create(t, cs, p)
		got := waitPod(t, cs, ns, p.Name, runningReady)
		msg := new(dns.Msg)
		msg.SetQuestion("foo.bar.com.", dns.TypeA)
		r, err := dns.Exchange(msg, hostAddr(addrs, got.Status.PodIP, 53).String())
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Extra) != 2 {
			t.Fatalf("DNS query: %v, %v", r, err)
		}
	})

	t.Run("a start the image would not survive", func(t *testing.T) {
		p := echoBasicPod(ns, "bad-port", env("HTTP_PORT", "eighty"))
		create(t, cs, p)
		waitPod(t, cs, ns, p.Name, waitingWith("CrashLoopBackOff", `echo-basic: HTTP_PORT="eighty"`))
	})

	t.Run("ConfigMap volume and projected sources", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-config"}, Data: map[string]string{"a.conf": "one"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := echoPod(ns, "configured", tcpPort(8080))
		p.Spec.Volumes = []corev1.Volume{
			{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
			{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			}}}},
		}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/conf"}, {Name: "all", MountPath: "/etc/all"}}
		create(t, cs, p)
		got := waitPod(t, cs, ns, p.Name, runningReady)
		for file, want := range map[string]string{
			filepath.Join(ag.volumeDir(got, "conf"), "a.conf"): "one",
			filepath.Join(ag.volumeDir(got, "all"), "a.conf"):  "one",
			filepath.Join(ag.volumeDir(got, "all"), "name"):    "configured",
		} {
			if b, err := os.ReadFile(file); err != nil || string(b) != want {
				t.Errorf("%s: %q, %v; want %q", file, b, err, want)
			}
		}
		cm.Data["a.conf"] = "two"
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		ctrltest.Eventually(t, 30*time.Second, func() error {
			b, err := os.ReadFile(filepath.Join(ag.volumeDir(got, "all"), "a.conf"))
			if err != nil || string(b) != "two" {
				return fmt.Errorf("a.conf %q, %v after the update", b, err)
			}
			return nil
		})
		answers(t, hostAddr(addrs, got.Status.PodIP, 8080), p.Name)
	})
}

// tcpTimeouts are the suite's timeouts, shortened: the pod answers at once.
func tcpTimeouts() config.TimeoutConfig {
	c := config.DefaultTimeoutConfig()
	c.MaxTimeToConsistency = 15 * time.Second
	return c
}

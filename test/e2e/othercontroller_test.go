package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elbowlb/elbow/internal/devenv"
)

// TestControllerNone runs `elbow dev --controller=none`, then another
// controller as a user would: a separate process started with nothing but
// the environment variables and the AWS Load Balancer Controller's flags
// that elbow dev printed (elbow's controller takes the same flags). Its
// webhooks get registered, the example's Ingress gets its ALB from it and
// serves, and an SDK client configured from the settings alone reaches
// every service.
func TestControllerNone(t *testing.T) {
	t.Parallel()
	d := startDevArgs(t, []string{"--controller=none"}, "examples/alb-ingress-minimal.yaml")
	if d.rep.Controller != devenv.ControllerNone || d.rep.Pending == "" || d.rep.Settings == nil {
		d.fatalf("first endpoints.json: controller %q, pending %q, settings %+v: want none, waiting for a controller, settings", d.rep.Controller, d.rep.Pending, d.rep.Settings)
	}
	s := *d.rep.Settings
	for _, want := range []string{"export AWS_ENDPOINT_URL=", "--aws-api-endpoints=", "--webhook-cert-dir=" + s.WebhookCertDir} {
		if !strings.Contains(d.out.String(), want) {
			d.fatalf("elbow dev did not print %q", want)
		}
	}
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if _, err := os.Stat(filepath.Join(s.WebhookCertDir, f)); err != nil {
			t.Errorf("webhook certificate directory: %v", err)
		}
	}

	// An SDK client configured from the settings alone.
	cfg := aws.Config{Region: s.Region, Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")}
	id, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.Endpoints[sts.ServiceID]) }).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != s.AccountID {
		t.Errorf("STS GetCallerIdentity: %v, %v: want account %s", id, err, s.AccountID)
	}
	vpcs, err := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(s.Endpoints[ec2.ServiceID]) }).DescribeVpcs(ctx(t), &ec2.DescribeVpcsInput{VpcIds: []string{s.VpcID}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Errorf("EC2 DescribeVpcs %s: %v", s.VpcID, err)
	}
	if _, err := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(s.Endpoints[elbv2.ServiceID]) }).DescribeLoadBalancers(ctx(t), &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Errorf("ELBv2 DescribeLoadBalancers: %v", err)
	}

	// Another controller, started with the printed settings only (and its
	// metrics and probes off, so that parallel tests do not share ports).
	args := append([]string{"controller"}, s.ControllerFlags...)
	args = append(args, "--metrics-bind-addr=0", "--health-probe-bind-addr=0")
	ctl := exec.Command(elbowBin, args...)
	ctl.Env = append(os.Environ(), s.Env...)
	logPath := filepath.Join(t.TempDir(), "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctl.Stdout, ctl.Stderr = logFile, logFile
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Wait() }()
	// Registered after startDev's cleanup, so it runs first: the
	// controller stops before elbow dev.
	t.Cleanup(func() {
		_ = ctl.Process.Signal(syscall.SIGINT)
		select {
		case <-ctlDone:
		case <-time.After(30 * time.Second):
			_ = ctl.Process.Kill()
			<-ctlDone
			t.Errorf("the controller did not stop within 30 s of SIGINT")
		}
		logFile.Close()
	})
	controllerLog := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 10000 {
			b = b[len(b)-10000:]
		}
		return string(b)
	}

	// elbow dev registers the webhooks, applies the file and reports the
	// load balancer the other controller made.
	deadline := time.Now().Add(6 * time.Minute)
	for {
		b, err := os.ReadFile(filepath.Join(d.dir, "endpoints.json"))
		if err == nil {
			var rep devenv.Report
			if json.Unmarshal(b, &rep) == nil && rep.Pending == "" {
				d.rep = rep
				break
			}
		}
		select {
		case err := <-ctlDone:
			d.fatalf("the controller exited: %v\n%s", err, controllerLog())
		case <-d.done:
			d.fatalf("elbow dev exited: %v", d.err)
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			d.fatalf("elbow dev never reported the load balancers\n--- controller log:\n%s", controllerLog())
		}
	}
	lb := d.lbFor("Ingress default/my-app")
	served(t, "http://"+servedAddr(t, lb, listener(t, lb, "HTTP", 80))+"/", "api.example.com", "my-app-", "http")

	// Every pod's address is on an interface of its node's instance, where
	// the reference controller looks for it (ip targets' security groups).
	instances := map[string]string{}
	for _, n := range d.rep.Nodes {
		instances[n.Name] = n.InstanceID
	}
	ec2c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(s.Endpoints[ec2.ServiceID]) })
	pods, err := d.kube().CoreV1().Pods("default").List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.Spec.HostNetwork {
			continue
		}
		out, err := ec2c.DescribeNetworkInterfaces(ctx(t), &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{s.VpcID}},
			{Name: aws.String("addresses.private-ip-address"), Values: []string{p.Status.PodIP}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.NetworkInterfaces) != 1 || out.NetworkInterfaces[0].Attachment == nil || aws.ToString(out.NetworkInterfaces[0].Attachment.InstanceId) != instances[p.Spec.NodeName] {
			t.Errorf("pod %s (%s on %s): interfaces %+v, want one attached to %s", p.Name, p.Status.PodIP, p.Spec.NodeName, out.NetworkInterfaces, instances[p.Spec.NodeName])
		}
	}

	// The Service mutator the other controller serves is registered: a new
	// type LoadBalancer Service gets the NLB class.
	svc, err := d.kube().CoreV1().Services("default").Create(ctx(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "plain-lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "my-app"},
			Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Service: %v", err)
	}
	if c := svc.Spec.LoadBalancerClass; c == nil || *c != "service.k8s.aws/nlb" {
		t.Errorf("Service spec.loadBalancerClass %q: want service.k8s.aws/nlb from the controller's mutating webhook", aws.ToString(c))
	}
	if err := d.kube().CoreV1().Services("default").Delete(ctx(t), "plain-lb", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete Service: %v", err)
	}
	eventually(t, 2*time.Minute, func() error {
		_, err := d.kube().CoreV1().Services("default").Get(ctx(t), "plain-lb", metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("Service plain-lb still there (its finalizer waits for the controller)")
	})
}

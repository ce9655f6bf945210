package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/elb/state/statetest"
	"github.com/elbowlb/elbow/internal/facts"
)

// createTG creates an HTTP target group named name.
func createTG(t *testing.T, elb *sdk.Client, vpc, name string) error {
	t.Helper()
	_, err := elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String(vpc), TargetType: types.TargetTypeEnumIp})
	return err
}

// healthz returns the status and body of a server's /healthz.
func healthz(t *testing.T, env *elbtest.Env) (int, string) {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(env.MetricsURL, "/metrics") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDamageWhileServing damages the state file under a serving local
// ELB: it must not go on "half alive". The snapshot that feeds the data
// planes fails, /healthz turns 503 naming the file, the log says so,
// writes are refused with AWS's ServiceUnavailable (EC2: Unavailable),
// reads of sound records still answer, and the server stops cleanly.
func TestDamageWhileServing(t *testing.T) {
	logs := &logBuf{}
	env := elbtest.StartWith(t, elbtest.Options{Metrics: true, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if code, body := healthz(t, env); code != http.StatusOK {
		t.Fatalf("healthz of a sound server = %d %q", code, body)
	}
	must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("victim-of-the-disk"), Subnets: env.PublicSubnets()[:2]}))
	if err := createTG(t, env.ELBv2, env.VpcID(), "sound"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(env.StateDir, state.FileName)
	// the load balancer's record: its name inverted in place
	statetest.Flip(t, path, statetest.RecordOffset(t, path, `"name":"victim-of-the-disk"`)+8, 6)

	// a write: its commit wakes the snapshot reader, which meets the damage
	_ = createTG(t, env.ELBv2, env.VpcID(), "trigger")
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := healthz(t, env)
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, path) {
				t.Errorf("healthz body %q does not name %s", body, path)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still %d %q 10 s after the damage", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := createTG(t, env.ELBv2, env.VpcID(), "refused")
	apiCode(t, err, "ServiceUnavailable")
	if !strings.Contains(err.Error(), path) {
		t.Errorf("the refusal %q does not name the state file", err)
	}
	_, err = env.EC2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String(env.VpcID())})
	apiCode(t, err, "Unavailable")
	// the damaged record is refused to readers too; sound ones are served
	_, err = env.ELBv2.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{})
	apiCode(t, err, "ServiceUnavailable")
	tgs := must[*sdk.DescribeTargetGroupsOutput](t)(env.ELBv2.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{Names: []string{"sound"}}))
	if len(tgs.TargetGroups) != 1 {
		t.Errorf("a sound record is not served: %+v", tgs.TargetGroups)
	}
	env.Stop() // elbtest fails the test if Run returns an error; a panic would end the test binary
	logs.mu.Lock()
	logged := logs.b.String()
	logs.mu.Unlock()
	if !strings.Contains(logged, `"msg":"state file damaged: writes are refused`) || !strings.Contains(logged, `"level":"ERROR"`) {
		t.Errorf("the damage was not logged as an error:\n%s", logged)
	}
}

// TestOnlineBackup takes a backup of a serving local ELB while writes go
// on, restores it into another directory, and serves it there.
func TestOnlineBackup(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true})
	lb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("kept"), Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	var created atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := createTG(t, env.ELBv2, env.VpcID(), fmt.Sprintf("tg-%d", i)); err != nil {
				t.Errorf("write during the backup: %v", err)
				return
			}
			created.Add(1)
		}
	}()
	for created.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	before := created.Load()
	file := filepath.Join(t.TempDir(), "backup.db")
	if err := server.Backup(ctx, env.StateDir, file, 0); err != nil {
		t.Fatal(err)
	}
	after := created.Load()
	close(stop)
	wg.Wait()

	var inUse *state.InUseError
	if _, err := state.Restore(ctx, env.StateDir, file, 0); !errors.As(err, &inUse) {
		t.Errorf("restore into a served directory = %v, want InUseError", err)
	}
	dir := t.TempDir()
	if _, err := state.Restore(ctx, dir, file, 0); err != nil {
		t.Fatal(err)
	}
	restored := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true, StateDir: dir})
	lbs := must[*sdk.DescribeLoadBalancersOutput](t)(restored.ELBv2.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
	if len(lbs.LoadBalancers) != 1 || *lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn {
		t.Errorf("restored load balancers = %+v, want %s", lbs.LoadBalancers, *lb.LoadBalancerArn)
	}
	tgs := must[*sdk.DescribeTargetGroupsOutput](t)(restored.ELBv2.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{}))
	if n := int32(len(tgs.TargetGroups)); n < before || n > after+1 {
		t.Errorf("restored %d target groups; %d were acknowledged before the backup began and %d when it ended", n, before, after)
	}
}

// TestStateCommandsAndRefusalsAtStart runs the elbow binary: a second
// process on a served directory, backup and restore from the command
// line, and the three damages of the issue, each refused at start with
// an error that names the file and the remedy, exit status 1 and no
// goroutine dump.
func TestStateCommandsAndRefusalsAtStart(t *testing.T) {
	bin := buildElbow(t)
	dir := t.TempDir()
	p := startElbow(t, bin, dir)
	elb := sdk.NewFromConfig(p.config())
	f := facts.Default(facts.DefaultRegion, "")
	var public []string
	for _, s := range f.Subnets {
		if s.Public {
			public = append(public, s.ID)
		}
	}
	lb := must[*sdk.CreateLoadBalancerOutput](t)(elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("kept"), Subnets: public[:2]})).LoadBalancers[0]
	for i := range 20 {
		if err := createTG(t, elb, f.VPCs[0].ID, fmt.Sprintf("tg-with-a-long-name-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}

	out, code := runElbow(t, bin, "elb", "--listen", "127.0.0.1:0", "--state-dir", dir)
	wantExit(t, "a second local ELB on the directory", out, code, 1, "is in use by another process (pid "+fmt.Sprint(p.cmd.Process.Pid)+")")
	backup := filepath.Join(t.TempDir(), "backup.db")
	out, code = runElbow(t, bin, "elb", "backup", "--state-dir", dir, backup)
	wantExit(t, "backup", out, code, 0, "backed up "+filepath.Join(dir, state.FileName)+" to "+backup)
	out, code = runElbow(t, bin, "elb", "restore", "--state-dir", dir, backup)
	wantExit(t, "restore into a served directory", out, code, 1, "is in use by another process")
	p.kill(t)
	// without free pages, so that the middle of the file holds data
	statetest.Compact(t, filepath.Join(dir, state.FileName))
	good, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		damage  func(testing.TB, string)
		problem string
	}{
		{"64 bytes inverted at half the file", statetest.FlipMiddle, "is damaged"},
		{"truncated to half", statetest.TruncateHalf, "is truncated"},
		{"zero length", statetest.Empty, "is empty (0 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, state.FileName)
			if err := os.WriteFile(path, good, 0o600); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path)
			out, code := runElbow(t, bin, "elb", "--listen", "127.0.0.1:0", "--state-dir", dir)
			wantExit(t, "start on the damaged state", out, code, 1, "state file "+path+" "+tc.problem, "elbow elb restore --state-dir "+dir)
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
				t.Errorf("a refusal with a goroutine dump:\n%s", out)
			}
			out, code = runElbow(t, bin, "elb", "restore", "--state-dir", dir, backup)
			wantExit(t, "restore", out, code, 0, "restored "+backup, "the state it replaced is kept at "+path+".replaced-")
			p := startElbow(t, bin, dir)
			lbs := must[*sdk.DescribeLoadBalancersOutput](t)(sdk.NewFromConfig(p.config()).DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
			if len(lbs.LoadBalancers) != 1 || *lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn {
				t.Errorf("after restore: %+v", lbs.LoadBalancers)
			}
			p.kill(t)
		})
	}
}

// runElbow runs the elbow binary to its end (at most 60 s) and returns
// its combined output and exit status.
func runElbow(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ELBOW_ACCESS_KEY_ID=", "ELBOW_SECRET_ACCESS_KEY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("elbow %s still running after 60 s:\n%s", strings.Join(args, " "), out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func wantExit(t *testing.T, what, out string, code, wantCode int, wants ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit status %d, want %d; output:\n%s", what, code, wantCode, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output does not say %q:\n%s", what, w, out)
		}
	}
}

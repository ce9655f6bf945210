package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/console"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
)

// sse reads server-sent events.
type sse struct{ r *bufio.Reader }

// next returns the next event's name and data.
func (s sse) next() (name, data string, err error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data, nil
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// The event stream starts with the model and the samples kept, then sends
// the model again when the state changes.
func TestEventStreamFollowsTheState(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{Console: true, NoDataPlanes: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", env.ConsoleURL+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	s := sse{bufio.NewReader(resp.Body)}
	var first []string
	for range 2 {
		name, _, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, name)
	}
	if strings.Join(first, ",") != "model,history" {
		t.Fatalf("first events %v, want model, history", first)
	}
	check[*sdk.CreateTargetGroupOutput](t)(env.ELBv2.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{
		Name: aws.String("streamed"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(env.VpcID())}))
	for {
		name, data, err := s.next()
		if err != nil {
			t.Fatalf("no model with the new target group: %v", err)
		}
		if name != "model" {
			continue
		}
		var m console.Model
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.TargetGroups) == 1 && m.TargetGroups[0].Name == "streamed" {
			return
		}
	}
}

// "Try a request" names what is wrong with a request it cannot route.
func TestTryRequestErrors(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{Console: true, NoDataPlanes: true})
	ctx := context.Background()
	lb := check[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("try"), Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	l := check[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200"), MessageBody: aws.String("hello")}}}})).Listeners[0]
	post := func(ctype, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(env.ConsoleURL+"api/try", ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer %q: %v", b, err)
		}
		return resp.StatusCode, out
	}
	arn := *l.ListenerArn
	// The console reads the state within a second of a change.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out := post("application/json", `{"listener":"`+arn+`"}`)
		if code == 200 {
			if out["kind"] != "respond" || out["status"] != 200.0 || out["body"] != "hello" {
				t.Errorf("default request: %v", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the listener never became routable: %d %v", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		name, ctype, body string
		code              int
		want              string
	}{
		{"not JSON", "text/plain", `{}`, 415, "want application/json"},
		{"bad JSON", "application/json", `{"listener":`, 400, "request body"},
		{"unknown field", "application/json", `{"listner":"x"}`, 400, "unknown field"},
		{"unknown listener", "application/json", `{"listener":"arn:nope"}`, 400, `listener "arn:nope": not an HTTP or HTTPS listener`},
		{"zone elsewhere", "application/json", `{"listener":"` + arn + `","zone":"us-east-1c"}`, 400, `zone "us-east-1c": the load balancer is in us-east-1a, us-east-1b`},
		{"method with a space", "application/json", `{"listener":"` + arn + `","method":"GE T"}`, 400, `method "GE T": want a token`},
		{"relative path", "application/json", `{"listener":"` + arn + `","path":"x"}`, 400, `path "x": want an absolute path`},
		{"query with a space", "application/json", `{"listener":"` + arn + `","query":"a b"}`, 400, `query "a b"`},
		{"header name", "application/json", `{"listener":"` + arn + `","headers":[{"name":"X Y","value":"1"}]}`, 400, `header name "X Y"`},
		{"header value", "application/json", `{"listener":"` + arn + `","headers":[{"name":"X","value":"a\r\nb"}]}`, 400, "header X: the value has a line break"},
		{"source", "application/json", `{"listener":"` + arn + `","source":"10.0.0"}`, 400, `source "10.0.0": want an IPv4 or IPv6 address`},
		{"too large", "application/json", `{"listener":"` + strings.Repeat("a", 70<<10) + `"}`, 400, "request body"},
	} {
		code, out := post(c.ctype, c.body)
		msg, _ := out["error"].(string)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, msg, c.code, c.want)
		}
	}
	// Reading is all the console does.
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(m, env.ConsoleURL+"api/model", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /api/model: %d, want 405", m, resp.StatusCode)
		}
	}
}

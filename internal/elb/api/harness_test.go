package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/api"
)

const (
	testKey    = "AKIDELBOWTEST"
	testSecret = "elbow/test+secret"
	testRegion = "us-east-1"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a started endpoint with every fake service.
type env struct {
	t    *testing.T
	srv  *httptest.Server
	h    *api.Handler
	rec  *recorder
	reg  *prometheus.Registry
	logs *syncBuffer
}

func start(t *testing.T, mutate ...func(*api.Config)) *env {
	t.Helper()
	rec := newRecorder()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	cfg := api.Config{
		Region:      testRegion,
		Credentials: map[string]string{testKey: testSecret},
		Services: []api.Service{
			api.ELBv2(&fakeELB{rec}),
			api.EC2(&fakeEC2{rec}),
			api.STS(&fakeSTS{rec}),
			api.ACM(&fakeACM{rec}),
			api.WAFv2(&fakeWAF{rec}),
			api.Shield(&fakeShield{rec}),
			api.Tagging(&fakeTagging{rec}),
		},
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: reg,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := api.NewHandler(cfg)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, h: h, rec: rec, reg: reg, logs: logs}
}

// connectionRetryer retries only connection failures: API errors reach the
// test at once, while the SDK transport's occasional closed connection on a
// fast server (aws/aws-sdk-go-v2#2737, retried by the SDK's default retryer
// since #2949) does not fail a test.
func connectionRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		o.RateLimiter = ratelimit.None
	})
}

// awsCfg is an SDK configuration pointed at the endpoint, signed with the
// test key, retrying only connection failures unless an option sets a
// retryer.
func (e *env) awsCfg(opts ...func(*aws.Config)) aws.Config {
	c := aws.Config{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		BaseEndpoint: aws.String(e.srv.URL),
		Retryer:      connectionRetryer,
		HTTPClient:   e.srv.Client(),
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func withCreds(akid, secret string) func(*aws.Config) {
	return func(c *aws.Config) {
		c.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, "")
	}
}

func withRegion(r string) func(*aws.Config) {
	return func(c *aws.Config) { c.Region = r }
}

func anonymous(c *aws.Config) { c.Credentials = aws.AnonymousCredentials{} }

// cmpOpts compare SDK structs: unexported markers compared too (they are
// empty), the SDK's ResultMetadata ignored.
var cmpOpts = []cmp.Option{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmpopts.IgnoreTypes(middleware.Metadata{}),
}

// roundTrip calls an operation through the SDK client with in, the fake
// answering out, and checks that the server decoded exactly in and the
// client decoded exactly out.
func roundTrip[I, O, Opt any](t *testing.T, e *env, action string, in *I, out *O, call func(context.Context, *I, ...Opt) (*O, error)) {
	t.Helper()
	e.rec.setOut(action, out)
	got, err := call(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if diff := cmp.Diff(in, e.rec.got(action), cmpOpts...); diff != "" {
		t.Errorf("%s: the server decoded another input (-sent +decoded):\n%s", action, diff)
	}
	if diff := cmp.Diff(out, got, cmpOpts...); diff != "" {
		t.Errorf("%s: the client decoded another output (-returned +decoded):\n%s", action, diff)
	}
}

// signedRequest builds a request to the endpoint signed with the SDK's own
// signer.
func (e *env) signedRequest(t *testing.T, method, path, service, contentType, body string, hdr map[string]string, signTime time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if signTime.IsZero() {
		signTime = time.Now()
	}
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashOf(body), service, testRegion, signTime); err != nil {
		t.Fatal(err)
	}
	return req
}

func (e *env) do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.String()
}

func ts(sec int) time.Time {
	return time.Date(2024, 5, 6, 7, 8, sec, 123_000_000, time.UTC)
}

func hashOf(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// signWith signs req with the test key and the given payload hash.
func signWith(t *testing.T, req *http.Request, payloadHash, service string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
}

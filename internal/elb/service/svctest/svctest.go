// Package svctest serves some of the local ELB's services over the real
// wire for their tests: a state store in a temporary directory, the
// services registered with api.NewHandler on an httptest server (SigV4
// checked), and an aws.Config that points the aws-sdk-go-v2 clients at it.
// It starts a few services, not the local ELB process; whole-server tests
// use the server's own helper.
package svctest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Credentials the test endpoint accepts.
const (
	AccessKeyID     = "AKIDSVCTEST"
	SecretAccessKey = "svctest-secret"
)

// Env is a running test endpoint.
type Env struct {
	// Store is the state the services use.
	Store *state.Store
	// URL is the endpoint.
	URL string
	// Config points SDK clients at the endpoint (region us-east-1, static
	// credentials, the SDK's standard retries).
	Config aws.Config
}

// OpenStore opens a store in a temporary directory, closed when the test
// ends.
func OpenStore(t testing.TB) *state.Store {
	t.Helper()
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Serve starts the services built by mk on a new store and returns the
// endpoint. The server stops when the test ends.
func Serve(t testing.TB, mk func(*state.Store) []api.Service) *Env {
	t.Helper()
	st := OpenStore(t)
	return ServeStore(t, st, mk(st)...)
}

// ServeStore serves services on an existing store.
func ServeStore(t testing.TB, st *state.Store, services ...api.Service) *Env {
	t.Helper()
	h, err := api.NewHandler(api.Config{
		Region:      facts.DefaultRegion,
		Credentials: map[string]string{AccessKeyID: SecretAccessKey},
		Services:    services,
	})
	if err != nil {
		t.Fatalf("api handler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       facts.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
		// The standard retryer stays on: against a server this fast the
		// SDK's transport sometimes closes a connection while a response
		// body is read (aws/aws-sdk-go-v2#2737), which the SDK retries
		// (net.ErrClosed, since aws/aws-sdk-go-v2#2949).
		RetryMaxAttempts: 3,
		HTTPClient:       srv.Client(),
	}
	return &Env{Store: st, URL: srv.URL, Config: cfg}
}

// Bootstrap is a helper for tests that need the local cloud's default
// resources: it applies facts.Default(region, cluster) to the store.
func Bootstrap(t testing.TB, st *state.Store, apply func(context.Context, *state.Store, *facts.Facts) error, cluster string) *facts.Facts {
	t.Helper()
	f := facts.Default(facts.DefaultRegion, cluster)
	if err := apply(context.Background(), st, f); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return f
}

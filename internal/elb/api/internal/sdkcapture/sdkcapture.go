// Package sdkcapture records the HTTP requests the aws-sdk-go-v2 clients
// send, without a server: the seeds of the codec fuzz targets are real SDK
// requests.
package sdkcapture

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrCaptured is what every captured call returns.
var ErrCaptured = errors.New("sdkcapture: request captured, not sent")

// Request is one captured request.
type Request struct {
	Header http.Header
	Body   []byte
	Target string // X-Amz-Target
}

// Recorder is an aws.HTTPClient that records requests and fails them.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

// Do records req.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Header: req.Header.Clone(), Body: bytes.Clone(body), Target: req.Header.Get("X-Amz-Target")})
	r.mu.Unlock()
	return nil, ErrCaptured
}

// Requests returns what was recorded.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Config returns an SDK configuration that records into r.
func (r *Recorder) Config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDCAPTURE", "secret", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:   r,
	}
}

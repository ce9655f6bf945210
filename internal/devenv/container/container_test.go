package container

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

func TestImageName(t *testing.T) {
	for image, want := range map[string]string{
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1":   "echo-basic",
		"registry.k8s.io/gateway-api/echo-basic@sha256:1": "echo-basic",
		"localhost:5000/echo-basic":                       "echo-basic",
		"localhost:5000/team/app:1.0@sha256:abc":          "app",
		"nginx":                                           "nginx",
		"nginx:latest":                                    "nginx",
		"":                                                "",
	} {
		if got := ImageName(image); got != want {
			t.Errorf("ImageName(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestReadFile(t *testing.T) {
	c := Container{Files: fstest.MapFS{"etc/secret-volume/crt": {Data: []byte("pem")}}}
	if b, err := c.ReadFile("/etc/secret-volume/crt"); err != nil || string(b) != "pem" {
		t.Errorf("ReadFile: %q, %v", b, err)
	}
	if b, err := c.ReadFile("//etc//secret-volume/./../secret-volume/crt"); err != nil || string(b) != "pem" {
		t.Errorf("ReadFile with //: %q, %v", b, err)
	}
	for path, want := range map[string]string{
		"/etc/missing": "open /etc/missing: file does not exist",
		"etc/secret":   `path "etc/secret" is not absolute`,
		"/etc/../../x": "open /etc/../../x: file does not exist",
	} {
		if _, err := c.ReadFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadFile(%q) = %v, want %q", path, err, want)
		}
	}
	if _, err := (Container{}).ReadFile("/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no files: %v", err)
	}
}

func TestPort(t *testing.T) {
	for value, want := range map[string]int{"": 3000, "1": 1, "65535": 65535, "0": -1, "65536": -1, "x": -1, " 80": -1} {
		got, err := Port(Container{Env: map[string]string{"P": value}}, "P", 3000)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), `P="`+value+`"`) {
				t.Errorf("Port(%q) = %d, %v; want an error naming it", value, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Port(%q) = %d, %v; want %d", value, got, err, want)
		}
	}
}

// TestProcess: when its context ends a process runs its stop functions,
// closes the connections it tracks, and Wait returns once its goroutines
// have; Abort does the same at once.
func TestProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := NewProcess(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.OnStop(func() { ln.Close() })
	var served atomic.Int32
	p.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			untrack := p.Track(c)
			p.Go(func() {
				defer untrack()
				_, _ = io.Copy(io.Discard, c)
				served.Add(1)
			})
		}
	})
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	time.Sleep(50 * time.Millisecond) // the connection is accepted
	cancel()
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the context ended with a connection open")
	}
	if served.Load() != 1 {
		t.Errorf("%d connections ended, want 1", served.Load())
	}
	closed := false
	p.OnStop(func() { closed = true })
	if !closed {
		t.Error("OnStop after the stop did not run at once")
	}

	q := NewProcess(context.Background())
	q.Go(func() { <-q.Context().Done() })
	q.Abort()
	if q.Context().Err() == nil {
		t.Error("Abort left the context running")
	}
}

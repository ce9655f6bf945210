// Package container is what a program that `elbow dev` runs in place of a
// known image sees of its container: its environment, its arguments, its
// files (the volumes mounted into it) and the address its sockets bind,
// as a process in a pod would see them.
package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Container is one container of a pod as its program sees it.
type Container struct {
	// Env is the container's environment, resolved as the kubelet resolves
	// it (values, fieldRefs, Secret and ConfigMap keys).
	Env map[string]string
	// Args are the container's args (the image's default when empty).
	Args []string
	// Files is the container's file system, rooted at "/": the volumes
	// mounted into it, and nothing else.
	Files fs.FS
	// Addr is the host address the pod's sockets bind (the pod IP's
	// loopback stand-in).
	Addr netip.Addr
	// Log receives the program's logs; nil discards them.
	Log *slog.Logger
}

// Getenv returns the value of an environment variable, "" when unset.
func (c Container) Getenv(name string) string { return c.Env[name] }

// ReadFile reads a file by its absolute path in the container.
func (c Container) ReadFile(path string) ([]byte, error) {
	if c.Files == nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	name, err := FSPath(path)
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(c.Files, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: unwrapPathError(err)}
	}
	return b, nil
}

// Logger returns Log, or a logger that discards.
func (c Container) Logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Listen listens on a TCP port of the container's address.
func (c Container) Listen(ctx context.Context, port int) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", netip.AddrPortFrom(c.Addr, uint16(port)).String())
}

// ListenPacket listens on a UDP port of the container's address.
func (c Container) ListenPacket(ctx context.Context, port int) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, "udp", netip.AddrPortFrom(c.Addr, uint16(port)).String())
}

// ImageName returns the last path element of an image reference's
// repository, without registry, tag or digest: "echo-basic" for
// registry.k8s.io/gateway-api/echo-basic:v1.5.1.
func ImageName(image string) string {
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo[strings.LastIndex(repo, "/")+1:]
}

// FSPath turns an absolute container path into an fs.FS name ("/etc/a" →
// "etc/a"), cleaned as the kernel resolves it ("//", "." and ".." go). It
// refuses relative paths.
func FSPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		return ".", nil
	}
	return name, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Port parses a port number read from the environment variable name:
// def when the value is empty, else 1–65535.
func Port(c Container, name string, def int) (int, error) {
	v := c.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s=%q: want a port number from 1 to 65535", name, v)
	}
	return n, nil
}

// Process is a program running for a container: the goroutines serving
// its sockets, which stop when its context ends.
type Process struct {
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	closers []func()
	conns   map[io.Closer]struct{}
	stopped bool
}

// NewProcess returns a process that runs until ctx ends or Abort.
func NewProcess(ctx context.Context) *Process {
	p := &Process{}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Go(func() {
		<-p.ctx.Done()
		p.mu.Lock()
		p.stopped = true
		cl := p.closers
		conns := p.conns
		p.closers, p.conns = nil, nil
		p.mu.Unlock()
		for _, f := range cl {
			f()
		}
		for c := range conns {
			c.Close()
		}
	})
	return p
}

// Context is the process's context: it ends when the process stops.
func (p *Process) Context() context.Context { return p.ctx }

// Go runs f as one of the process's goroutines.
func (p *Process) Go(f func()) { p.wg.Go(f) }

// OnStop registers f to run when the process stops (closing a listener);
// at once if it has stopped.
func (p *Process) OnStop(f func()) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		f()
		return
	}
	p.closers = append(p.closers, f)
	p.mu.Unlock()
}

// Track keeps c (a connection) to close when the process stops, until
// the returned func is called. A process that has stopped closes c at
// once.
func (p *Process) Track(c io.Closer) (untrack func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		c.Close()
		return func() {}
	}
	if p.conns == nil {
		p.conns = map[io.Closer]struct{}{}
	}
	p.conns[c] = struct{}{}
	return func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}
}

// Abort stops the process (a start that failed half-way) and waits for it.
func (p *Process) Abort() {
	p.cancel()
	p.wg.Wait()
}

// Wait waits until the process has stopped and every goroutine of it has
// returned.
func (p *Process) Wait() { p.wg.Wait() }

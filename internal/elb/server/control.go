package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The control socket is a Unix socket, readable and writable by the
// server's user only, on which the server answers its own tools: GET
// /backup streams a consistent copy of the state while the server keeps
// serving. Its path is recorded in the state directory's lock file
// (state.Holder.Control), so that `elbow elb backup --state-dir DIR` finds
// it from the directory alone.
const controlSocketName = "elb.sock"

// maxSocketPath is the longest Unix socket path Linux and the BSDs
// accept (sun_path is 104 to 108 bytes with its NUL).
const maxSocketPath = 100

// control is the server's control socket.
type control struct {
	ln     net.Listener
	srv    *http.Server
	path   string
	tmpDir string // a private directory holding the socket, when the state directory's path is too long
}

// listenControl opens the control socket for store's state directory and
// records it in the lock file.
func listenControl(store *state.Store, log *slog.Logger) (*control, error) {
	c := &control{path: filepath.Join(filepath.Dir(store.Path()), controlSocketName)}
	if len(c.path) > maxSocketPath {
		dir, err := os.MkdirTemp("", "elbow-elb-")
		if err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		c.tmpDir, c.path = dir, filepath.Join(dir, controlSocketName)
	}
	// a socket left by a process that held the directory before: the
	// directory's lock is ours, so nobody serves it
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", c.path)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	c.ln = ln
	if err := os.Chmod(c.path, 0o600); err != nil {
		c.close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := store.SetControl(c.path); err != nil {
		c.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Err(); err != nil {
			http.Error(w, fmt.Sprintf("no backup of a damaged state: %v", err), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := store.Backup(w)
		if err != nil {
			// the client sees a short copy, which does not verify
			log.Error("online backup failed", "error", err, "bytes", n)
			return
		}
		log.Info("online backup sent", "bytes", n)
	})
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return c, nil
}

// serve serves until shutdown.
func (c *control) serve() error {
	if err := c.srv.Serve(c.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}

// shutdown stops serving, letting a backup in progress finish until ctx
// ends.
func (c *control) shutdown(ctx context.Context) {
	if c.srv != nil {
		_ = c.srv.Shutdown(ctx)
	}
	c.close()
}

// close removes the socket.
func (c *control) close() {
	if c.ln != nil {
		c.ln.Close() // removes the socket file
	}
	if c.tmpDir != "" {
		os.RemoveAll(c.tmpDir)
	}
}

// Backup writes a consistent copy of the state in dir to file, verified
// (state.VerifyFile) before it takes file's name. When no process holds
// dir the copy is read from the file; when a local ELB serves dir it is
// asked for the copy through its control socket, and it keeps serving.
// timeout bounds each verification (0: state.DefaultCheckTimeout).
func Backup(ctx context.Context, dir, file string, timeout time.Duration) error {
	err := state.BackupDir(ctx, dir, file, timeout)
	var inUse *state.InUseError
	if !errors.As(err, &inUse) {
		return err
	}
	socket := inUse.Holder.Control
	if socket == "" {
		return fmt.Errorf("backup: %w, and it serves no control socket to ask for an online copy", err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://elbow-elb/backup", nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("backup: ask the local ELB serving %s (pid %d) at %s: %w", dir, inUse.Holder.PID, socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup: the local ELB serving %s (pid %d) refused: %s", dir, inUse.Holder.PID, msg)
	}
	return state.WriteBackupFile(ctx, file, timeout, func(w io.Writer) error {
		_, err := io.Copy(w, resp.Body)
		return err
	})
}

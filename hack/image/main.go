// Command image builds elbow's container image without a Docker daemon
// (`make image`): it cross-compiles a static elbow binary per platform
// (CGO_ENABLED=0, -trimpath, no VCS stamp, no build ID) and writes the
// multi-platform OCI image archive internal/ociimage assembles, loadable by
// `docker load`, `ctr import` and `kind load image-archive`.
//
// Same sources, version and creation time give the same archive: the
// creation time is $SOURCE_DATE_EPOCH, else the last commit's time.
//
//	go run ./hack/image -o bin/elbow-image.tar -version v0.1.0
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/ociimage"
)

// options are the command's flags.
type options struct {
	out       string
	repo      string
	version   string
	platforms []string
	caFile    string
	created   time.Time
	moduleDir string
}

// DefaultRepository is the image's name without tag; the chart's
// image.repository default.
const DefaultRepository = "ghcr.io/elbowlb/elbow"

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o options
	var platforms, created string
	fs.StringVar(&o.out, "o", "bin/elbow-image.tar", "archive to write")
	fs.StringVar(&o.repo, "repository", DefaultRepository, "image name without tag")
	fs.StringVar(&o.version, "version", "", "image tag and `elbow version` (default: git describe --tags --always --dirty, else dev)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "platforms, comma-separated; the first is the one Docker's classic store loads")
	fs.StringVar(&o.caFile, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to install")
	fs.StringVar(&created, "created", "", "creation time, Unix seconds (default: $SOURCE_DATE_EPOCH, else the last commit's time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.platforms = strings.Split(platforms, ",")
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if o.moduleDir, err = moduleRoot(wd); err != nil {
		return err
	}
	if o.version == "" {
		o.version = gitOutput(ctx, o.moduleDir, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if created == "" {
		created = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if created == "" {
		created = gitOutput(ctx, o.moduleDir, "0", "log", "-1", "--format=%ct")
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil || secs < 0 {
		return fmt.Errorf("creation time %q: want Unix seconds", created)
	}
	o.created = time.Unix(secs, 0).UTC()
	return build(ctx, o)
}

// build compiles the binaries and writes the archive.
func build(ctx context.Context, o options) error {
	ca, err := os.ReadFile(o.caFile)
	if err != nil {
		return fmt.Errorf("CA certificates: %w (install the ca-certificates package or pass -ca-certificates)", err)
	}
	tmp, err := os.MkdirTemp("", "elbow-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	spec := ociimage.Spec{CACertificates: ca, Created: o.created, Version: o.version, Source: "https://github.com/elbowlb/elbow"}
	for _, p := range o.platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("platform %q: want os/arch such as linux/amd64", p)
		}
		bin := filepath.Join(tmp, "elbow-"+goos+"-"+goarch)
		if err := goBuild(ctx, o.moduleDir, goos, goarch, o.version, bin); err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		spec.Binaries = append(spec.Binaries, ociimage.Binary{OS: goos, Arch: goarch, Data: data})
	}
	idx, err := ociimage.Build(spec)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(o.out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(filepath.Dir(o.out), ".elbow-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	ref := o.repo + ":" + o.version
	if err := ociimage.WriteArchive(f, idx, ref, o.platforms[0], o.created); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), o.out); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image: wrote %s: %s (%s), index %s\n", o.out, ref, strings.Join(o.platforms, ", "), d)
	return nil
}

// goBuild cross-compiles a static elbow binary. The flags and the
// environment fix everything that would otherwise make two builds differ.
func goBuild(ctx context.Context, dir, goos, goarch, version, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+version, "-o", out, "./cmd/elbow")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=", "GOAMD64=v1", "GOARM64=v8.0", "GOEXPERIMENT=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s/%s: %w\n%s", goos, goarch, err, stderr.String())
	}
	return nil
}

// moduleRoot finds the directory of go.mod at or above dir.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod at or above the working directory")
		}
	}
}

// gitOutput runs git in dir and returns its trimmed output, or def when
// git fails (no git, not a repository).
func gitOutput(ctx context.Context, dir, def string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return def
	}
	return string(bytes.TrimSpace(out))
}

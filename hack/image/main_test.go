package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/ociimage"
)

// TestImage builds the image as `make image` does (both platforms, the
// real elbow binary), reads the archive back and runs the host platform's
// binary from its layer: `elbow version` prints the version built in.
// A second build of the same inputs must give the same archive.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Fatalf("the image test runs the image's binary, which needs linux/amd64 or linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	// The builds are bounded by the test's -timeout: a first build of
	// both platforms takes many minutes on a busy machine.
	ctx := context.Background()
	root, err := moduleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := options{
		out: filepath.Join(dir, "a.tar"), repo: DefaultRepository, version: "v0.0.0-test",
		platforms: []string{"linux/amd64", "linux/arm64"}, caFile: "/etc/ssl/certs/ca-certificates.crt",
		created: time.Unix(1767225600, 0).UTC(), moduleDir: root,
	}
	if err := build(ctx, o); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	o.out = filepath.Join(dir, "b.tar")
	if err := build(ctx, o); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two builds of the same inputs differ")
	}

	p, err := ociimage.Unpack(bytes.NewReader(first), filepath.Join(dir, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	idx, name, err := ociimage.Named(p)
	if err != nil {
		t.Fatal(err)
	}
	if name != DefaultRepository+":v0.0.0-test" {
		t.Errorf("image name %q", name)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(im.Manifests))
	}
	ran := false
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User == "" || strings.HasPrefix(cf.Config.User, "0") || strings.HasPrefix(cf.Config.User, "root") {
			t.Errorf("%s: user %q, want a non-root user", d.Platform.Architecture, cf.Config.User)
		}
		if d.Platform.Architecture != cf.Architecture {
			t.Errorf("index says %s, config says %s", d.Platform.Architecture, cf.Architecture)
		}
		files, err := ociimage.Files(img)
		if err != nil {
			t.Fatal(err)
		}
		bin := files[strings.TrimPrefix(ociimage.BinaryPath, "/")].Data
		if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
			t.Fatalf("%s: the binary is not an ELF file", cf.Architecture)
		}
		if cf.Architecture != runtime.GOARCH {
			continue
		}
		exe := filepath.Join(dir, "elbow")
		if err := os.WriteFile(exe, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		run, cancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(run, exe, "version").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("elbow version: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "v0.0.0-test" {
			t.Errorf("elbow version printed %q, want v0.0.0-test", got)
		}
		ran = true
	}
	if !ran {
		t.Errorf("no image for %s", runtime.GOARCH)
	}
}

package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func testSpec() Spec {
	return Spec{
		Binaries: []Binary{
			{OS: "linux", Arch: "amd64", Data: []byte("\x7fELF amd64 binary")},
			{OS: "linux", Arch: "arm64", Data: []byte("\x7fELF arm64 binary")},
		},
		CACertificates: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		Created:        created,
		Version:        "v1.2.3",
		Source:         "https://github.com/elbowlb/elbow",
	}
}

func archive(t *testing.T, s Spec) []byte {
	t.Helper()
	idx, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteArchive(&buf, idx, "ghcr.io/elbowlb/elbow:v1.2.3", "linux/amd64", s.Created); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReproducible(t *testing.T) {
	a, b := archive(t, testSpec()), archive(t, testSpec())
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same spec differ")
	}
	changed := testSpec()
	changed.Binaries[1].Data = []byte("\x7fELF another arm64 binary")
	if bytes.Equal(a, archive(t, changed)) {
		t.Fatal("an archive with another arm64 binary is the same")
	}
	i1, _ := Build(testSpec())
	i2, _ := Build(changed)
	d1, _ := i1.Digest()
	d2, _ := i2.Digest()
	if d1 == d2 {
		t.Fatalf("index digests equal (%s) for different binaries", d1)
	}
}

// TestArchiveReadBack unpacks the archive and checks what a runtime reads:
// the named index, one image per platform with its config (non-root user,
// entrypoint, platform) and the files of its layers.
func TestArchiveReadBack(t *testing.T) {
	s := testSpec()
	data := archive(t, s)
	dir := t.TempDir()
	p, err := Unpack(bytes.NewReader(data), dir)
	if err != nil {
		t.Fatal(err)
	}
	var top v1.IndexManifest
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json manifests = %+v, want one image index", top.Manifests)
	}
	if got := top.Manifests[0].Annotations[AnnotationImageName]; got != "ghcr.io/elbowlb/elbow:v1.2.3" {
		t.Errorf("image name annotation %q", got)
	}
	if got := top.Manifests[0].Annotations[AnnotationRefName]; got != "v1.2.3" {
		t.Errorf("ref name annotation %q", got)
	}
	idx, name, err := Named(p)
	if err != nil {
		t.Fatal(err)
	}
	if name != "ghcr.io/elbowlb/elbow:v1.2.3" {
		t.Errorf("Named: image name %q", name)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(im.Manifests))
	}
	for i, d := range im.Manifests {
		want := s.Binaries[i]
		if d.Platform == nil || d.Platform.OS != want.OS || d.Platform.Architecture != want.Arch {
			t.Errorf("manifest %d platform %+v, want %s/%s", i, d.Platform, want.OS, want.Arch)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", want.Arch, cf.Config.User)
		}
		if cf.Architecture != want.Arch || cf.OS != want.OS {
			t.Errorf("config platform %s/%s", cf.OS, cf.Architecture)
		}
		if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != BinaryPath {
			t.Errorf("entrypoint %q", cf.Config.Entrypoint)
		}
		if !cf.Created.Time.Equal(created) {
			t.Errorf("created %v", cf.Created)
		}
		if cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" {
			t.Errorf("labels %v", cf.Config.Labels)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if mt, _ := l.MediaType(); mt != types.OCILayer {
				t.Errorf("layer media type %s", mt)
			}
		}
		files, err := Files(img)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range files {
			if !f.ModTime.Equal(created) {
				t.Errorf("%s: mtime %v", name, f.ModTime)
			}
		}
		if got := files[strings.TrimPrefix(BinaryPath, "/")]; got.Mode != 0o755 || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: binary %o %q", want.Arch, got.Mode, got.Data)
		}
		if got := files[strings.TrimPrefix(CAPath, "/")]; !bytes.Equal(got.Data, s.CACertificates) {
			t.Errorf("CA bundle %q", got.Data)
		}
		if !strings.Contains(string(files["etc/passwd"].Data), "nonroot:x:65532:65532:") {
			t.Errorf("passwd %q", files["etc/passwd"].Data)
		}
		if got := files["tmp/"]; got.Mode != 0o1777 {
			t.Errorf("/tmp mode %o", got.Mode)
		}
	}

	var docker []dockerManifest
	raw, err = os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &docker); err != nil {
		t.Fatal(err)
	}
	if len(docker) != 1 || len(docker[0].RepoTags) != 1 || docker[0].RepoTags[0] != "ghcr.io/elbowlb/elbow:v1.2.3" || len(docker[0].Layers) != 2 {
		t.Fatalf("manifest.json %+v", docker)
	}
	amd, _ := idx.Image(im.Manifests[0].Digest)
	cfgName, _ := amd.ConfigName()
	if docker[0].Config != "blobs/sha256/"+cfgName.Hex {
		t.Errorf("manifest.json config %s, want the amd64 config %s", docker[0].Config, cfgName)
	}
	for _, l := range docker[0].Layers {
		if _, err := os.Stat(filepath.Join(dir, l)); err != nil {
			t.Errorf("manifest.json layer: %v", err)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Spec){
		"no binaries":   func(s *Spec) { s.Binaries = nil },
		"no CA":         func(s *Spec) { s.CACertificates = nil },
		"same platform": func(s *Spec) { s.Binaries[1].Arch = "amd64" },
		"no data":       func(s *Spec) { s.Binaries[0].Data = nil },
	} {
		s := testSpec()
		mod(&s)
		if _, err := Build(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	idx, err := Build(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(io.Discard, idx, "elbow:dev", "linux/s390x", created); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("missing docker platform: %v", err)
	}
	if err := WriteArchive(io.Discard, idx, "Not A Name!", "linux/amd64", created); err == nil {
		t.Error("bad image name: no error")
	}
}

func TestUnpackRefuses(t *testing.T) {
	for name, h := range map[string]*tar.Header{
		"parent":   {Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"absolute": {Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"symlink":  {Name: "blobs", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_ = tw.Close()
		if _, err := Unpack(&buf, t.TempDir()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

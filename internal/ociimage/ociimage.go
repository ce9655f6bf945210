// Package ociimage assembles elbow's container image without a Docker
// daemon: one image per platform (a static binary, CA certificates and a
// non-root user on an empty base), a multi-platform index over them, and
// an archive of that index that `docker load`, `ctr import` and
// `kind load image-archive` read. The same inputs give the same bytes, so
// the same digests: every timestamp is the Created time given, file
// ownership and modes are fixed, and entries are written in a fixed order.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout.
const (
	// BinaryPath is where the binary sits; it is the entrypoint.
	BinaryPath = "/usr/local/bin/elbow"
	// CAPath is the CA bundle, where Go's crypto/x509 looks first on Linux.
	CAPath = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID are the non-root user the image runs as (the
	// "nonroot" user of distroless images).
	UID = 65532
	GID = 65532
	// UserName is that user's name in /etc/passwd.
	UserName = "nonroot"
)

// Binary is the executable of one platform.
type Binary struct {
	// OS and Arch are the platform, e.g. linux and amd64.
	OS, Arch string
	// Data is the executable (a static binary: the image has no libc).
	Data []byte
}

// Spec describes the image.
type Spec struct {
	// Binaries are the executables, one per platform.
	Binaries []Binary
	// CACertificates is the PEM bundle installed at CAPath.
	CACertificates []byte
	// Created is the image's creation time and every file's modification
	// time (for reproducible builds: the source's commit time).
	Created time.Time
	// Version goes into the org.opencontainers.image.version label.
	Version string
	// Source goes into the org.opencontainers.image.source label (empty:
	// none).
	Source string
}

// Build returns the multi-platform image index the spec describes, its
// images in the order of Spec.Binaries.
func Build(spec Spec) (v1.ImageIndex, error) {
	if len(spec.Binaries) == 0 {
		return nil, errors.New("ociimage: no binaries")
	}
	if len(spec.CACertificates) == 0 {
		return nil, errors.New("ociimage: no CA certificates")
	}
	seen := map[string]bool{}
	base, err := layer(spec.Created, baseFiles(spec.CACertificates))
	if err != nil {
		return nil, fmt.Errorf("ociimage: base layer: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, b := range spec.Binaries {
		if b.OS == "" || b.Arch == "" || len(b.Data) == 0 {
			return nil, fmt.Errorf("ociimage: binary %s/%s: OS, Arch and Data are required", b.OS, b.Arch)
		}
		p := b.OS + "/" + b.Arch
		if seen[p] {
			return nil, fmt.Errorf("ociimage: two binaries for %s", p)
		}
		seen[p] = true
		img, err := platformImage(spec, base, b)
		if err != nil {
			return nil, fmt.Errorf("ociimage: %s: %w", p, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: b.OS, Architecture: b.Arch}},
		})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

func platformImage(spec Spec, base v1.Layer, b Binary) (v1.Image, error) {
	bin, err := layer(spec.Created, []file{
		{name: "/usr/", mode: 0o755},
		{name: "/usr/local/", mode: 0o755},
		{name: "/usr/local/bin/", mode: 0o755},
		{name: BinaryPath, mode: 0o755, data: b.Data},
	})
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: spec.Created}, CreatedBy: "elbow: CA certificates, /etc/passwd, /etc/group, /tmp"}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: v1.Time{Time: spec.Created}, CreatedBy: "elbow: " + BinaryPath}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = b.OS, b.Arch
	cf.Created = v1.Time{Time: spec.Created}
	cf.Config.User = fmt.Sprintf("%d:%d", UID, GID)
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + CAPath}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "elbow",
		"org.opencontainers.image.version": spec.Version,
	}
	if spec.Source != "" {
		cf.Config.Labels["org.opencontainers.image.source"] = spec.Source
	}
	return mutate.ConfigFile(img, cf)
}

// file is one entry of a layer; a name ending in "/" is a directory.
type file struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte
}

func baseFiles(ca []byte) []file {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", UserName, UID, GID, UserName, UserName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	return []file{
		{name: "/etc/", mode: 0o755},
		{name: "/etc/group", mode: 0o644, data: []byte(group)},
		{name: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "/etc/ssl/", mode: 0o755},
		{name: "/etc/ssl/certs/", mode: 0o755},
		{name: CAPath, mode: 0o644, data: ca},
		{name: "/home/", mode: 0o755},
		{name: "/home/" + UserName + "/", mode: 0o700, uid: UID, gid: GID},
		{name: "/tmp/", mode: 0o1777},
	}
}

// layer returns a gzip-compressed layer of files, written in order with
// the given modification time; parent directories of files must come
// before them.
func layer(mtime time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name := strings.TrimPrefix(f.name, "/")
		h := &tar.Header{
			Name: name, Mode: f.mode, Uid: f.uid, Gid: f.gid,
			ModTime: mtime, Format: tar.FormatPAX,
		}
		if strings.HasSuffix(name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
			if dir := path.Dir(name); dir != "." && !hasDir(files, "/"+dir+"/") {
				return nil, fmt.Errorf("%s: parent directory not in the layer", f.name)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithMediaType(types.OCILayer))
}

func hasDir(files []file, dir string) bool {
	for _, f := range files {
		if f.name == dir {
			return true
		}
	}
	return false
}

package ociimage

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of the archive's index.json entry, as `docker save` writes
// them: containerd (ctr import, kind load, Docker's containerd store)
// names the image after the first, OCI tools after the second.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// WriteArchive writes idx to w as a tar of an OCI image layout (oci-layout,
// index.json naming the index ref, blobs/sha256/…) that also carries a
// Docker manifest.json for the image of dockerPlatform (e.g.
// "linux/amd64"), as `docker save` does, so that Docker's classic image
// store loads it too. Every entry has mtime and fixed modes, in sorted
// order, so the same index gives the same archive.
func WriteArchive(w io.Writer, idx v1.ImageIndex, ref, dockerPlatform string, mtime time.Time) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("ociimage: image name %q: %w", ref, err)
	}
	blobs := map[string][]byte{}
	addBlob := func(h v1.Hash, data []byte) { blobs["blobs/"+h.Algorithm+"/"+h.Hex] = data }

	rawIdx, err := idx.RawManifest()
	if err != nil {
		return err
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}
	addBlob(idxDigest, rawIdx)
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var docker []dockerManifest
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("ociimage: image %s: %w", d.Digest, err)
		}
		dm, err := addImage(img, addBlob)
		if err != nil {
			return fmt.Errorf("ociimage: image %s: %w", d.Digest, err)
		}
		if d.Platform != nil && d.Platform.OS+"/"+d.Platform.Architecture == dockerPlatform {
			dm.RepoTags = []string{tag.Name()}
			docker = append(docker, dm)
		}
	}
	if len(docker) != 1 {
		return fmt.Errorf("ociimage: the index has no image for %s (the platform of manifest.json)", dockerPlatform)
	}
	top := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIImageIndex,
			Digest:    idxDigest,
			Size:      int64(len(rawIdx)),
			Annotations: map[string]string{
				AnnotationImageName: tag.Name(),
				AnnotationRefName:   tag.TagStr(),
			},
		}},
	}
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	if files["index.json"], err = json.Marshal(top); err != nil {
		return err
	}
	if files["manifest.json"], err = json.Marshal(docker); err != nil {
		return err
	}
	for k, v := range blobs {
		files[k] = v
	}
	return writeTar(w, files, mtime)
}

// dockerManifest is one entry of `docker save`'s manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func addImage(img v1.Image, addBlob func(v1.Hash, []byte)) (dockerManifest, error) {
	var dm dockerManifest
	raw, err := img.RawManifest()
	if err != nil {
		return dm, err
	}
	d, err := img.Digest()
	if err != nil {
		return dm, err
	}
	addBlob(d, raw)
	cfg, err := img.RawConfigFile()
	if err != nil {
		return dm, err
	}
	cd, err := img.ConfigName()
	if err != nil {
		return dm, err
	}
	addBlob(cd, cfg)
	dm.Config = "blobs/" + cd.Algorithm + "/" + cd.Hex
	layers, err := img.Layers()
	if err != nil {
		return dm, err
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			return dm, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return dm, err
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return dm, err
		}
		addBlob(ld, data)
		dm.Layers = append(dm.Layers, "blobs/"+ld.Algorithm+"/"+ld.Hex)
	}
	return dm, nil
}

// writeTar writes files (and their parent directories) in sorted order.
func writeTar(w io.Writer, files map[string][]byte, mtime time.Time) error {
	names := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for n := range files {
		names = append(names, n)
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: mtime, Format: tar.FormatPAX, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(files[n]))}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("ociimage: %s: %w", n, err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			return fmt.Errorf("ociimage: %s: %w", n, err)
		}
	}
	return tw.Close()
}

// maxArchiveEntry bounds one entry of an archive Unpack reads.
const maxArchiveEntry = 1 << 30

// Unpack extracts an archive WriteArchive wrote (or any tar of an OCI
// image layout) into dir and returns the layout. It refuses entries that
// are not regular files or directories, or that would land outside dir.
func Unpack(r io.Reader, dir string) (layout.Path, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("ociimage: read archive: %w", err)
		}
		clean := path.Clean(h.Name)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", fmt.Errorf("ociimage: archive entry %q is outside the layout", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", err
			}
		case tar.TypeReg:
			if h.Size > maxArchiveEntry {
				return "", fmt.Errorf("ociimage: archive entry %q is %d bytes, more than %d", h.Name, h.Size, maxArchiveEntry)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return "", fmt.Errorf("ociimage: %s: %w", h.Name, err)
			}
		default:
			return "", fmt.Errorf("ociimage: archive entry %q has type %q; want regular files and directories", h.Name, h.Typeflag)
		}
	}
	return layout.FromPath(dir)
}

// File is a file of an image's layers.
type File struct {
	Mode    int64
	ModTime time.Time
	Data    []byte
}

// Files returns the files and directories of an image's layers by path
// (without the leading /, directories ending in /), a later layer's entry
// replacing an earlier one's. Whiteouts are not applied: elbow's images
// have none.
func Files(img v1.Image) (map[string]File, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	out := map[string]File{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("ociimage: layer: %w", err)
			}
			data, err := io.ReadAll(io.LimitReader(tr, maxArchiveEntry))
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("ociimage: layer entry %s: %w", h.Name, err)
			}
			out[h.Name] = File{Mode: h.Mode, ModTime: h.ModTime, Data: data}
		}
		if err := rc.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Named returns the image index that a layout's index.json names (its
// only entry, as WriteArchive writes it) and the entry's image name.
func Named(p layout.Path) (v1.ImageIndex, string, error) {
	outer, err := p.ImageIndex()
	if err != nil {
		return nil, "", err
	}
	m, err := outer.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(m.Manifests) != 1 || m.Manifests[0].MediaType != types.OCIImageIndex {
		return nil, "", fmt.Errorf("ociimage: index.json has %d entries; want one image index", len(m.Manifests))
	}
	idx, err := outer.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, "", err
	}
	return idx, m.Manifests[0].Annotations[AnnotationImageName], nil
}

package agent

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWriteAtomic checks the kubelet's volume layout: files reached
// through ..data, swapped whole when the content changes, untouched when
// it does not, names that go removed.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	files := map[string]volumeFile{"crt": {data: []byte("A"), mode: 0o644}, "sub/key": {data: []byte("B"), mode: 0o600}}
	changed, err := writeAtomic(dir, files, t0)
	if err != nil || !changed {
		t.Fatalf("first write: %v, changed %v", err, changed)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if read("crt") != "A" || read("sub/key") != "B" {
		t.Fatalf("files %q %q", read("crt"), read("sub/key"))
	}
	if link, err := os.Readlink(filepath.Join(dir, "crt")); err != nil || link != "..data/crt" {
		t.Errorf("crt is %q, %v; want a link through ..data", link, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "sub/key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sub/key mode %v, %v", st.Mode(), err)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))

	if changed, err := writeAtomic(dir, files, t0.Add(time.Minute)); err != nil || changed {
		t.Fatalf("same content: %v, changed %v", err, changed)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("..data moved from %s to %s without a change", first, again)
	}

	files = map[string]volumeFile{"crt": {data: []byte("C"), mode: 0o644}}
	if changed, err := writeAtomic(dir, files, t0.Add(2*time.Minute)); err != nil || !changed {
		t.Fatalf("new content: %v, changed %v", err, changed)
	}
	if read("crt") != "C" {
		t.Errorf("crt %q after the update", read("crt"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("sub still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old data directory %s still there: %v", first, err)
	}

	for _, bad := range []string{"../x", "/abs", "..data", "a/../../b"} {
		if _, err := writeAtomic(dir, map[string]volumeFile{bad: {data: nil, mode: 0o644}}, t0); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

// TestContainerFS checks that a container sees its mounts at their paths
// (the longest mount path wins, subPath picks a directory) and nothing
// else.
func TestContainerFS(t *testing.T) {
	a := &agent{dataDir: t.TempDir()}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}
	write := func(vol, name, data string) {
		p := filepath.Join(a.volumeDir(pod, vol), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("certs", "crt", "outer")
	write("inner", "crt", "inner")
	write("conf", "sub/app.conf", "conf")
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "certs", MountPath: "/etc/certs"},
		{Name: "inner", MountPath: "/etc/certs/inner/"},
		{Name: "conf", MountPath: "/etc/app", SubPath: "sub"},
	}}
	fsys, err := a.containerFS(pod, c)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/certs/crt": "outer", "etc/certs/inner/crt": "inner", "etc/app/app.conf": "conf"} {
		if b, err := fs.ReadFile(fsys, name); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	for _, name := range []string{"etc/passwd", "etc/certs/../app/app.conf", "etc/certsx/crt"} {
		if _, err := fs.ReadFile(fsys, name); err == nil {
			t.Errorf("%s readable", name)
		}
	}
	if _, err := a.containerFS(pod, &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "x", MountPath: "rel"}}}); err == nil {
		t.Error("a relative mountPath accepted")
	}
}

package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// defaultVolumeMode is the mode of the files of Secret, ConfigMap,
// downward API and projected volumes when the pod names none (0644).
const defaultVolumeMode = corev1.SecretVolumeSourceDefaultMode

// volumeFile is one file of a volume's payload.
type volumeFile struct {
	data []byte
	mode fs.FileMode
}

// errNotMounted marks a volume kind the agent does not mount (its mount
// path stays empty).
var errNotMounted = errors.New("volume kind not mounted by the node agent")

// podDir is where a pod's volumes live on the host, as the kubelet's
// /var/lib/kubelet/pods/UID.
func (a *agent) podDir(pod *corev1.Pod) string {
	return filepath.Join(a.dataDir, "pods", string(pod.UID))
}

func (a *agent) volumeDir(pod *corev1.Pod, name string) string {
	return filepath.Join(a.podDir(pod), "volumes", name)
}

// mountVolumes writes every volume of the pod that the agent mounts
// (Secret, ConfigMap, downward API, projected, emptyDir) under the pod's
// directory, rewriting a volume whose content changed the way the kubelet
// does (a new timestamped directory, then the ..data link swapped). It
// returns the first volume that cannot be set up, in the kubelet's words.
func (a *agent) mountVolumes(ctx context.Context, rt *podRuntime, pod *corev1.Pod) error {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		dir := a.volumeDir(pod, v.Name)
		if v.EmptyDir != nil {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
			}
			continue
		}
		files, err := a.volumePayload(ctx, rt, pod, v)
		if errors.Is(err, errNotMounted) {
			if !rt.unmounted[v.Name] {
				rt.log.Info("volume not mounted: the node agent mounts Secret, ConfigMap, downward API, projected and emptyDir volumes", "volume", v.Name)
				rt.unmounted[v.Name] = true
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
		changed, err := writeAtomic(dir, files, time.Now())
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
		if changed {
			rt.log.Debug("volume written", "volume", v.Name, "files", len(files))
		}
	}
	return nil
}

// volumePayload returns the files a volume holds.
func (a *agent) volumePayload(ctx context.Context, rt *podRuntime, pod *corev1.Pod, v *corev1.Volume) (map[string]volumeFile, error) {
	files := map[string]volumeFile{}
	switch {
	case v.Secret != nil:
		src := v.Secret
		err := a.secretFiles(files, pod, src.SecretName, src.Items, src.Optional, modeOr(src.DefaultMode))
		return files, err
	case v.ConfigMap != nil:
		src := v.ConfigMap
		err := a.configMapFiles(files, pod, src.Name, src.Items, src.Optional, modeOr(src.DefaultMode))
		return files, err
	case v.DownwardAPI != nil:
		err := downwardFiles(files, pod, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
		return files, err
	case v.Projected != nil:
		mode := modeOr(v.Projected.DefaultMode)
		for _, s := range v.Projected.Sources {
			var err error
			switch {
			case s.Secret != nil:
				err = a.secretFiles(files, pod, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode)
			case s.ConfigMap != nil:
				err = a.configMapFiles(files, pod, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode)
			case s.DownwardAPI != nil:
				err = downwardFiles(files, pod, s.DownwardAPI.Items, mode)
			case s.ServiceAccountToken != nil:
				var tok string
				tok, err = a.serviceAccountToken(ctx, rt, pod, s.ServiceAccountToken)
				files[s.ServiceAccountToken.Path] = volumeFile{data: []byte(tok), mode: mode}
			default:
				rt.log.Info("projected volume source not written: the node agent writes secret, configMap, downwardAPI and serviceAccountToken sources", "volume", v.Name)
			}
			if err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	return nil, errNotMounted
}

func modeOr(m *int32) fs.FileMode {
	if m == nil {
		return fs.FileMode(defaultVolumeMode)
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// keyFiles adds data's keys to files: every key under its own name, or
// only the items, each at its path (a missing key is an error unless
// optional).
func keyFiles(files map[string]volumeFile, data map[string][]byte, items []corev1.KeyToPath, optional bool, mode fs.FileMode, missing func(key string) error) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = volumeFile{data: v, mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return missing(it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		files[it.Path] = volumeFile{data: v, mode: m}
	}
	return nil
}

func (a *agent) secretFiles(files map[string]volumeFile, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, mode fs.FileMode) error {
	optional := opt != nil && *opt
	s, err := a.secret(pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil
		}
		return fmt.Errorf("secret %q not found", name)
	}
	if err != nil {
		return err
	}
	return keyFiles(files, s.Data, items, optional, mode, func(key string) error {
		return fmt.Errorf("references non-existent secret key: %s", key)
	})
}

func (a *agent) configMapFiles(files map[string]volumeFile, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, mode fs.FileMode) error {
	optional := opt != nil && *opt
	cm, err := a.configMap(pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil
		}
		return fmt.Errorf("configmap %q not found", name)
	}
	if err != nil {
		return err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(files, data, items, optional, mode, func(key string) error {
		return fmt.Errorf("configmap references non-existent config key: %s", key)
	})
}

// downwardFiles adds a downward API volume's items: pod metadata fields
// and containers' resources.
func downwardFiles(files map[string]volumeFile, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode fs.FileMode) error {
	for _, it := range items {
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath, pod.Status.PodIP, pod.Status.HostIP)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return fmt.Errorf("downward API item %q: no container %q in the pod", it.Path, it.ResourceFieldRef.ContainerName)
			}
			v, err = containerResource(c, it.ResourceFieldRef)
		}
		if err != nil {
			return fmt.Errorf("downward API item %q: %w", it.Path, err)
		}
		files[it.Path] = volumeFile{data: []byte(v), mode: m}
	}
	return nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// serviceAccountToken returns a token of the pod's service account bound
// to the pod (TokenRequest), requested again once 80% of its life is
// over, as the kubelet does.
func (a *agent) serviceAccountToken(ctx context.Context, rt *podRuntime, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (string, error) {
	key := src.Audience + "/" + fmt.Sprint(src.ExpirationSeconds)
	if t, ok := rt.tokens[key]; ok && time.Now().Before(t.refresh) {
		return t.token, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	got, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("failed to fetch token: %w", err)
	}
	issued := time.Now()
	life := got.Status.ExpirationTimestamp.Sub(issued)
	rt.tokens[key] = issuedToken{token: got.Status.Token, refresh: issued.Add(life * 8 / 10)}
	return got.Status.Token, nil
}

// issuedToken is a service account token and when to ask for a new one.
type issuedToken struct {
	token   string
	refresh time.Time
}

// dataLink is the link to a volume's current data directory.
const dataLink = "..data"

// writeAtomic makes dir hold exactly files, the way the kubelet's atomic
// writer does: the files go into a new directory ..TIMESTAMP.N, the link
// ..data is swapped to it in one rename, each top-level name is a link
// through ..data, and the previous directory goes. A reader sees the old
// set or the new one, never a mix. It reports whether anything changed.
func writeAtomic(dir string, files map[string]volumeFile, now time.Time) (bool, error) {
	for p := range files {
		if !fs.ValidPath(p) || p == "." || strings.HasPrefix(p, "..") {
			return false, fmt.Errorf("invalid path %q in the volume (want a relative path without ..)", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err == nil && sameFiles(filepath.Join(dir, old), files) {
		return false, nil
	}
	tsDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05.")) // kubelet's naming
	if err != nil {
		return false, err
	}
	for p, f := range files {
		full := filepath.Join(tsDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return false, err
		}
		if err := os.Chmod(full, f.mode); err != nil { // past the umask
			return false, err
		}
	}
	tmp := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(tsDir), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	top := map[string]bool{}
	for p := range files {
		first, _, _ := strings.Cut(p, "/")
		top[first] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".."):
			if name != dataLink && name != filepath.Base(tsDir) && e.IsDir() {
				_ = os.RemoveAll(filepath.Join(dir, name)) // an earlier data directory
			}
		case !top[name]:
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(path.Join(dataLink, name), link); err != nil {
			return false, err
		}
	}
	return true, nil
}

// sameFiles reports whether the directory holds exactly files, with their
// contents and modes.
func sameFiles(dir string, files map[string]volumeFile) bool {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		found = append(found, filepath.ToSlash(rel))
		return nil
	})
	if err != nil || len(found) != len(files) {
		return false
	}
	for _, rel := range found {
		f, ok := files[rel]
		if !ok {
			return false
		}
		full := filepath.Join(dir, filepath.FromSlash(rel))
		st, err := os.Stat(full)
		if err != nil || st.Mode().Perm() != f.mode {
			return false
		}
		b, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(b, f.data) {
			return false
		}
	}
	return true
}

// mountFS is a container's file system: its volume mounts, each a host
// directory (or a subPath of one) at its mountPath.
type mountFS struct {
	mounts []mount // longest mountPath first
}

type mount struct {
	path string // fs.FS name of the mount path, e.g. etc/secret-volume
	dir  string // host directory
}

// containerFS returns the file system a container sees through its
// volumeMounts of the pod's volumes the agent mounts.
func (a *agent) containerFS(pod *corev1.Pod, c *corev1.Container) (fs.FS, error) {
	var m mountFS
	for _, vm := range c.VolumeMounts {
		p, err := container.FSPath(vm.MountPath)
		if err != nil {
			return nil, fmt.Errorf("volume mount %q: %w", vm.Name, err)
		}
		dir := a.volumeDir(pod, vm.Name)
		if vm.SubPath != "" {
			if !fs.ValidPath(vm.SubPath) {
				return nil, fmt.Errorf("volume mount %q: subPath %q is not a relative path without \"..\"", vm.Name, vm.SubPath)
			}
			dir = filepath.Join(dir, filepath.FromSlash(vm.SubPath))
		}
		m.mounts = append(m.mounts, mount{path: p, dir: dir})
	}
	sort.SliceStable(m.mounts, func(i, j int) bool { return len(m.mounts[i].path) > len(m.mounts[j].path) })
	return m, nil
}

// Open opens a file through the mount that holds it.
func (m mountFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	for _, mt := range m.mounts {
		if name == mt.path {
			return os.DirFS(mt.dir).Open(".")
		}
		if rel, ok := strings.CutPrefix(name, mt.path+"/"); ok {
			return os.DirFS(mt.dir).Open(rel)
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// referencesObject reports whether the pod reads the Secret (secret true)
// or ConfigMap of that name in its namespace: volumes, projected sources,
// env and envFrom.
func referencesObject(pod *corev1.Pod, secret bool, name string) bool {
	for _, v := range pod.Spec.Volumes {
		if secret && v.Secret != nil && v.Secret.SecretName == name || !secret && v.ConfigMap != nil && v.ConfigMap.Name == name {
			return true
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if secret && s.Secret != nil && s.Secret.Name == name || !secret && s.ConfigMap != nil && s.ConfigMap.Name == name {
					return true
				}
			}
		}
	}
	cs := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for _, c := range cs {
		for _, f := range c.EnvFrom {
			if secret && f.SecretRef != nil && f.SecretRef.Name == name || !secret && f.ConfigMapRef != nil && f.ConfigMapRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if secret && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name || !secret && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name {
				return true
			}
		}
	}
	return false
}

// secret reads a Secret from the informer's cache.
func (a *agent) secret(namespace, name string) (*corev1.Secret, error) {
	return a.secretLister.Secrets(namespace).Get(name)
}

// configMap reads a ConfigMap from the informer's cache.
func (a *agent) configMap(namespace, name string) (*corev1.ConfigMap, error) {
	return a.configMapLister.ConfigMaps(namespace).Get(name)
}

// removeStalePodDirs removes the directories of pods that are gone (deleted
// while no agent ran).
func (a *agent) removeStalePodDirs() {
	entries, err := os.ReadDir(filepath.Join(a.dataDir, "pods"))
	if err != nil {
		return
	}
	live := map[string]bool{}
	pods, _ := a.podLister.List(labels.Everything())
	for _, p := range pods {
		live[string(p.UID)] = true
	}
	for _, e := range entries {
		if !live[e.Name()] {
			_ = os.RemoveAll(filepath.Join(a.dataDir, "pods", e.Name()))
		}
	}
}

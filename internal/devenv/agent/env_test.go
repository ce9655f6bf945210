package agent

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// fakeObjects serves Secrets and ConfigMaps from maps, with the listers'
// NotFound errors.
type fakeObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func (f fakeObjects) secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
}

func (f fakeObjects) configMap(ns, name string) (*corev1.ConfigMap, error) {
	if c, ok := f.configMaps[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmap"), name)
}

func TestContainerEnv(t *testing.T) {
	objs := fakeObjects{
		secrets:    map[string]*corev1.Secret{"ns/creds": {Data: map[string][]byte{"password": []byte("s3cret"), "user": []byte("admin")}}},
		configMaps: map[string]*corev1.ConfigMap{"ns/settings": {Data: map[string]string{"MODE": "fast", "bad=key": "x"}, BinaryData: map[string][]byte{"blob": []byte("bin")}}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"team": "a"}},
		Spec:       corev1.PodSpec{NodeName: "node-a", ServiceAccountName: "sa"},
	}
	ref := func(src corev1.EnvVarSource) *corev1.EnvVarSource { return &src }
	field := func(path string) *corev1.EnvVarSource {
		return ref(corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}})
	}
	for _, tc := range []struct {
		name    string
		c       corev1.Container
		want    map[string]string
		wantErr string
	}{
		{"values and expansion", corev1.Container{Env: []corev1.EnvVar{
			{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)-$(C)-$$(A)-$"}, {Name: "C", Value: "3"},
		}}, map[string]string{"A": "1", "B": "1-$(C)-$(A)-$", "C": "3"}, ""},
		{"fieldRefs", corev1.Container{Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: field("metadata.name")}, {Name: "NAMESPACE", ValueFrom: field("metadata.namespace")},
			{Name: "UID", ValueFrom: field("metadata.uid")}, {Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "TEAM", ValueFrom: field("metadata.annotations['team']")}, {Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "SA", ValueFrom: field("spec.serviceAccountName")}, {Name: "IP", ValueFrom: field("status.podIP")},
			{Name: "HOST", ValueFrom: field("status.hostIP")},
		}}, map[string]string{"POD_NAME": "web-1", "NAMESPACE": "ns", "UID": "uid-1", "APP": "web", "TEAM": "a", "NODE": "node-a", "SA": "sa", "IP": "10.0.128.5", "HOST": "10.0.128.10"}, ""},
		{"keys", corev1.Container{Env: []corev1.EnvVar{
			{Name: "PASS", ValueFrom: ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}})},
			{Name: "MODE", ValueFrom: ref(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "MODE"}})},
			{Name: "BLOB", ValueFrom: ref(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "blob"}})},
			{Name: "OPT", ValueFrom: ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k", Optional: ptr.To(true)}})},
			{Name: "OPTKEY", ValueFrom: ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "nokey", Optional: ptr.To(true)}})},
		}}, map[string]string{"PASS": "s3cret", "MODE": "fast", "BLOB": "bin"}, ""},
		{"envFrom with prefix, env wins", corev1.Container{
			EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
				{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
			},
			Env: []corev1.EnvVar{{Name: "MODE", Value: "slow-$(DB_user)"}},
		}, map[string]string{"MODE": "slow-admin", "DB_password": "s3cret", "DB_user": "admin"}, ""},
		{"resources", corev1.Container{
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			Env: []corev1.EnvVar{
				{Name: "CPU_REQ", ValueFrom: ref(corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu"}})},
				{Name: "CPU_REQ_M", ValueFrom: ref(corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}})},
				{Name: "CPU_LIM", ValueFrom: ref(corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}})},
				{Name: "MEM_LIM_MI", ValueFrom: ref(corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}})},
				{Name: "MEM_REQ", ValueFrom: ref(corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory"}})},
			},
		}, map[string]string{"CPU_REQ": "1", "CPU_REQ_M": "250", "CPU_LIM": "2", "MEM_LIM_MI": "128", "MEM_REQ": "67108864"}, ""},
		{"missing secret", corev1.Container{Env: []corev1.EnvVar{
			{Name: "X", ValueFrom: ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}})},
		}}, nil, `secret "gone" not found`},
		{"missing secret key", corev1.Container{Env: []corev1.EnvVar{
			{Name: "X", ValueFrom: ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "k"}})},
		}}, nil, "couldn't find key k in Secret ns/creds"},
		{"missing configmap key", corev1.Container{Env: []corev1.EnvVar{
			{Name: "X", ValueFrom: ref(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "k"}})},
		}}, nil, "couldn't find key k in ConfigMap ns/settings"},
		{"missing envFrom configmap", corev1.Container{EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}},
		}}, nil, `configmap "gone" not found`},
		{"unknown field", corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: field("spec.hostname")}}}, nil, "unsupported fieldPath: spec.hostname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerEnv(pod, &tc.c, "10.0.128.5", "10.0.128.10", objs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("env %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "x", "B": "$(A)"}
	for in, want := range map[string]string{
		"":             "",
		"plain":        "plain",
		"$(A)":         "x",
		"$(A)$(A)":     "xx",
		"$(B)":         "$(A)", // no recursion
		"$$(A)":        "$(A)",
		"$$$(A)":       "$x",
		"$(MISSING)":   "$(MISSING)",
		"$()":          "$()",
		"$(A":          "$(A",
		"$(A$$":        "$(A$",
		"a$b":          "a$b",
		"trailing$":    "trailing$",
		"$(A) and $()": "x and $()",
	} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzExpand: expansion never panics, leaves strings without $ alone, and
// without variables only unescapes $$.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$", "$(", "a$(B)c$$(D)", "$", "$()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := expand(s, map[string]string{"A": "1"})
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("expand(%q) = %q without a $", s, got)
		}
		if none := expand(s, nil); len(none) > len(s) {
			t.Fatalf("expand(%q) without variables grew to %q", s, none)
		}
	})
}

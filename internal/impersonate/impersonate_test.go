package impersonate

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// TestServiceAccount: the impersonated client has the ServiceAccount's
// permissions only, and each forbidden request is reported.
func TestServiceAccount(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	admin := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := "default"
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Forbidden
	sa := kubernetes.NewForConfigOrDie(ServiceAccount(cfg, ns, "reader", func(f Forbidden) {
		mu.Lock()
		got = append(got, f)
		mu.Unlock()
	}))
	if _, err := sa.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list configmaps as the ServiceAccount: %v", err)
	}
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list secrets as the ServiceAccount: %v, want forbidden", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Method != "GET" || got[0].Path != "/api/v1/namespaces/default/secrets" {
		t.Errorf("reported %+v, want the one GET of secrets", got)
	}
	if u := ServiceAccountUser(ns, "reader"); u != "system:serviceaccount:default:reader" {
		t.Errorf("user %s", u)
	}
}

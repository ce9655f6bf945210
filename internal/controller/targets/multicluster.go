package targets

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// A binding to a target group shared by several clusters
// (spec.multiClusterTargetGroup) deregisters only the targets it
// registered itself. It records them, as the reference controller does, in
// the ConfigMap aws-lbc-targets-<binding> (key "targets": "id:port,…").
const (
	trackedTargetsPrefix = "aws-lbc-targets-"
	trackedTargetsKey    = "targets"
)

func trackedName(tgb *elbv2api.TargetGroupBinding) string { return trackedTargetsPrefix + tgb.Name }

func (r *Reconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// tracked returns the targets a multi-cluster binding registered, and
// whether it has a record at all (a new binding has none: it deregisters
// nothing until it has one).
func (r *Reconciler) tracked(ctx context.Context, tgb *elbv2api.TargetGroupBinding, st *bindingState) (map[Target]bool, bool, error) {
	if st.tracked != nil {
		return st.tracked, true, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.reader().Get(ctx, client.ObjectKey{Namespace: tgb.Namespace, Name: trackedName(tgb)}, cm)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("tracked targets %s: %w", trackedName(tgb), err)
	}
	st.tracked = parseTargets(cm.Data[trackedTargetsKey])
	return st.tracked, true, nil
}

// saveTracked records the set when it differs from the last record.
func (r *Reconciler) saveTracked(ctx context.Context, tgb *elbv2api.TargetGroupBinding, st *bindingState, set map[Target]bool) error {
	if st.tracked != nil && sameSet(st.tracked, set) {
		return nil
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: tgb.Namespace, Name: trackedName(tgb)}}
	data := map[string]string{trackedTargetsKey: formatTargets(set)}
	err := r.reader().Get(ctx, client.ObjectKeyFromObject(cm), cm)
	switch {
	case apierrors.IsNotFound(err):
		cm.Data = data
		err = r.Client.Create(ctx, cm)
	case err == nil:
		cm.Data = data
		err = r.Client.Update(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("tracked targets %s: %w", trackedName(tgb), err)
	}
	st.tracked = set
	return nil
}

func (r *Reconciler) deleteTracked(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: tgb.Namespace, Name: trackedName(tgb)}}
	if err := r.Client.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("tracked targets %s: %w", trackedName(tgb), err)
	}
	return nil
}

func parseTargets(s string) map[Target]bool {
	out := map[Target]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			continue
		}
		port, err := strconv.ParseInt(item[i+1:], 10, 32)
		if err != nil {
			continue
		}
		out[Target{ID: item[:i], Port: int32(port)}] = true
	}
	return out
}

func formatTargets(set map[Target]bool) string {
	items := make([]string, 0, len(set))
	for t := range set {
		items = append(items, t.String())
	}
	sort.Strings(items)
	return strings.Join(items, ",")
}

func sameSet(a, b map[Target]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for t := range a {
		if !b[t] {
			return false
		}
	}
	return true
}

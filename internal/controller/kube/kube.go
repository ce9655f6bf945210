// Package kube holds the small helpers every elbow reconciler shares: a
// slog logger carrying the object's namespace and name, finalizer and
// condition edits through patches, and Events with bounded notes.
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Logger returns the reconcile's logger as a slog.Logger. controller-runtime
// puts the controller name, the object's namespace and name and the
// reconcile ID into the context's logger, so every line carries them.
func Logger(ctx context.Context) *slog.Logger {
	return slog.New(logr.ToSlogHandler(log.FromContext(ctx)))
}

// AddFinalizer adds a finalizer with a merge patch (no conflict on a
// stale object) and reports whether it had to.
func AddFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (bool, error) {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return false, nil
	}
	old, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return false, fmt.Errorf("add finalizer %s: cannot copy %T", finalizer, obj)
	}
	controllerutil.AddFinalizer(obj, finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("add finalizer %s: %w", finalizer, err)
	}
	return true, nil
}

// RemoveFinalizer removes a finalizer with a patch and reports whether it
// had to. A missing object is not an error.
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (bool, error) {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return false, nil
	}
	old, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return false, fmt.Errorf("remove finalizer %s: cannot copy %T", finalizer, obj)
	}
	controllerutil.RemoveFinalizer(obj, finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("remove finalizer %s: %w", finalizer, client.IgnoreNotFound(err))
	}
	return true, nil
}

// maxNote is the longest note the events.k8s.io API accepts (1 kB).
const maxNote = 1024

// Recorder emits Events with the reasons the reference controller uses.
// The zero Recorder (nil Events) drops them.
type Recorder struct {
	Events events.EventRecorder
}

// Normal emits a Normal event.
func (r Recorder) Normal(obj runtime.Object, reason, action, note string) {
	r.emit(obj, corev1.EventTypeNormal, reason, action, note)
}

// Warning emits a Warning event.
func (r Recorder) Warning(obj runtime.Object, reason, action, note string) {
	r.emit(obj, corev1.EventTypeWarning, reason, action, note)
}

func (r Recorder) emit(obj runtime.Object, typ, reason, action, note string) {
	if r.Events == nil {
		return
	}
	r.Events.Eventf(obj, nil, typ, reason, action, "%s", Truncate(note, maxNote))
}

// Truncate shortens s to at most n bytes on a rune boundary, marking the
// cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

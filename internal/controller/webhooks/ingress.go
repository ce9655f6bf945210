package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
)

// IngressClassController is the IngressClass controller name elbow serves.
const IngressClassController = "ingress.k8s.aws/alb"

const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// ErrInvalidIngressClass wraps errors about an Ingress's class.
var ErrInvalidIngressClass = errors.New("invalid ingress class")

// IngressValidator rejects what the reference rejects for Ingresses of its
// class: new uses of the kubernetes.io/ingress.class or group.name
// annotations when those are disabled, an ingressClassName that names a
// missing class or a class whose IngressClassParams are missing or do not
// admit the namespace, and invalid conditions.<name> annotations.
type IngressValidator struct {
	Client client.Reader
	// IngressClass is --ingress-class.
	IngressClass string
	// DisableIngressClassAnnotation is --disable-ingress-class-annotation.
	DisableIngressClassAnnotation bool
	// DisableGroupNameAnnotation is --disable-ingress-group-name-annotation.
	DisableGroupNameAnnotation bool
}

// ClassAnnotationMatches reports whether a kubernetes.io/ingress.class
// value selects the controller whose --ingress-class is ingressClass.
func ClassAnnotationMatches(ingressClass, value string) bool {
	if ingressClass == "" && value == "alb" {
		return true
	}
	return value == ingressClass
}

// ValidateCreate implements admission.Validator.
func (v *IngressValidator) ValidateCreate(ctx context.Context, ing *networking.Ingress) (admission.Warnings, error) {
	return nil, v.validate(ctx, nil, ing)
}

// ValidateUpdate implements admission.Validator.
func (v *IngressValidator) ValidateUpdate(ctx context.Context, old, ing *networking.Ingress) (admission.Warnings, error) {
	return nil, v.validate(ctx, old, ing)
}

// ValidateDelete implements admission.Validator.
func (v *IngressValidator) ValidateDelete(context.Context, *networking.Ingress) (admission.Warnings, error) {
	return nil, nil
}

func (v *IngressValidator) validate(ctx context.Context, old, ing *networking.Ingress) error {
	namespace := ing.Namespace
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Namespace != "" {
		namespace = req.Namespace
	}
	ours, err := v.ours(ctx, ing, namespace)
	if err != nil || !ours {
		return err
	}
	if v.DisableIngressClassAnnotation {
		usedNew := ClassAnnotationMatches(v.IngressClass, ing.Annotations[annotations.IngressClass]) && ing.Annotations[annotations.IngressClass] != ""
		usedOld := old != nil && old.Annotations[annotations.IngressClass] != "" && ClassAnnotationMatches(v.IngressClass, old.Annotations[annotations.IngressClass])
		if usedNew && !usedOld {
			return fmt.Errorf("new usage of `%s` annotation is forbidden", annotations.IngressClass)
		}
	}
	if v.DisableGroupNameAnnotation {
		newName, usedNew := ing.Annotations[annotations.IngressGroupName]
		oldName, usedOld := "", false
		if old != nil {
			oldName, usedOld = old.Annotations[annotations.IngressGroupName]
		}
		if usedNew && (!usedOld || newName != oldName) {
			return fmt.Errorf("new usage of `%s` annotation is forbidden", annotations.IngressGroupName)
		}
	}
	if ing.Spec.IngressClassName != nil && (old == nil || old.Spec.IngressClassName == nil || *old.Spec.IngressClassName != *ing.Spec.IngressClassName) {
		if _, _, err := LoadClass(ctx, v.Client, *ing.Spec.IngressClassName, namespace); err != nil {
			return err
		}
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			key := annotations.IngressConditions(p.Backend.Service.Name)
			raw, ok := ing.Annotations[key]
			if !ok {
				continue
			}
			if _, err := annotations.ParseConditions(key, raw); err != nil {
				return fmt.Errorf("ignoring Ingress %s/%s since invalid %s annotation: %w", namespace, ing.Name, key, err)
			}
		}
	}
	return nil
}

// ours reports whether the Ingress belongs to this controller: by its
// class annotation, else by its IngressClass (or the default class), else
// only when --ingress-class is empty.
func (v *IngressValidator) ours(ctx context.Context, ing *networking.Ingress, namespace string) (bool, error) {
	if value, ok := ing.Annotations[annotations.IngressClass]; ok {
		return ClassAnnotationMatches(v.IngressClass, value), nil
	}
	name := ""
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else {
		var list networking.IngressClassList
		if err := v.Client.List(ctx, &list); err != nil {
			return false, fmt.Errorf("%w: fetching ingressClasses: %v", ErrInvalidIngressClass, err)
		}
		for _, c := range list.Items {
			if c.Annotations[defaultClassAnnotation] == "true" {
				if name != "" {
					return false, errors.New("multiple default IngressClasses found")
				}
				name = c.Name
			}
		}
		if name == "" {
			return v.IngressClass == "", nil
		}
	}
	class := &networking.IngressClass{}
	if err := v.Client.Get(ctx, types.NamespacedName{Name: name}, class); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("%w: %v", ErrInvalidIngressClass, err)
		}
		return false, err
	}
	return class.Spec.Controller == IngressClassController, nil
}

// LoadClass loads an IngressClass and, when it is elbow's and names them,
// its IngressClassParams, checking that they admit namespace.
func LoadClass(ctx context.Context, c client.Reader, name, namespace string) (*networking.IngressClass, *elbv2api.IngressClassParams, error) {
	class := &networking.IngressClass{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, class); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidIngressClass, err)
		}
		return nil, nil, err
	}
	if class.Spec.Controller != IngressClassController || class.Spec.Parameters == nil {
		return class, nil, nil
	}
	p := class.Spec.Parameters
	if p.APIGroup == nil || *p.APIGroup != elbv2api.GroupVersion.Group || p.Kind != "IngressClassParams" {
		return nil, nil, fmt.Errorf("%w: IngressClass %v references unknown parameters", ErrInvalidIngressClass, class.Name)
	}
	params := &elbv2api.IngressClassParams{}
	if err := c.Get(ctx, types.NamespacedName{Name: p.Name}, params); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidIngressClass, err)
		}
		return nil, nil, err
	}
	if params.Spec.NamespaceSelector != nil {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
			return nil, nil, fmt.Errorf("%w: namespace %s: %v", ErrInvalidIngressClass, namespace, err)
		}
		sel, err := metav1.LabelSelectorAsSelector(params.Spec.NamespaceSelector)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: IngressClassParams %s: namespaceSelector: %v", ErrInvalidIngressClass, params.Name, err)
		}
		if !sel.Matches(labels.Set(ns.Labels)) {
			return nil, nil, fmt.Errorf("%w: namespaceSelector of IngressClassParams %v mismatch", ErrInvalidIngressClass, params.Name)
		}
	}
	return class, params, nil
}

// ParamsValidator rejects IngressClassParams with invalid inbound CIDRs or
// subnet selectors.
type ParamsValidator struct{}

// ValidateCreate implements admission.Validator.
func (ParamsValidator) ValidateCreate(_ context.Context, p *elbv2api.IngressClassParams) (admission.Warnings, error) {
	return nil, ValidateParams(p).ToAggregate()
}

// ValidateUpdate implements admission.Validator.
func (ParamsValidator) ValidateUpdate(_ context.Context, _, p *elbv2api.IngressClassParams) (admission.Warnings, error) {
	return nil, ValidateParams(p).ToAggregate()
}

// ValidateDelete implements admission.Validator.
func (ParamsValidator) ValidateDelete(context.Context, *elbv2api.IngressClassParams) (admission.Warnings, error) {
	return nil, nil
}

// ValidateParams checks spec.inboundCIDRs and spec.subnets.
func ValidateParams(p *elbv2api.IngressClassParams) field.ErrorList {
	var errs field.ErrorList
	for i, cidr := range p.Spec.InboundCIDRs {
		errs = append(errs, validateCIDR(cidr, field.NewPath("spec", "inboundCIDRs").Index(i))...)
	}
	if s := p.Spec.Subnets; s != nil {
		path := field.NewPath("spec", "subnets")
		switch {
		case s.IDs == nil && s.Tags == nil:
			errs = append(errs, field.Required(path, "must have either `ids` or `tags`"))
		case s.IDs != nil && s.Tags != nil:
			errs = append(errs, field.Forbidden(path.Child("tags"), "may not have both `ids` and `tags` set"))
		case s.IDs != nil:
			seen := map[elbv2api.SubnetID]bool{}
			for i, id := range s.IDs {
				if seen[id] {
					errs = append(errs, field.Duplicate(path.Child("ids").Index(i), id))
				}
				seen[id] = true
			}
		default:
			if len(s.Tags) == 0 {
				errs = append(errs, field.Required(path.Child("tags"), "must have at least one tag key"))
			}
			for k, values := range s.Tags {
				seen := map[string]bool{}
				for i, val := range values {
					if seen[val] {
						errs = append(errs, field.Duplicate(path.Child("tags").Key(k).Index(i), val))
					}
					seen[val] = true
				}
			}
		}
	}
	return errs
}

func validateCIDR(cidr string, path *field.Path) field.ErrorList {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		detail := "Could not be parsed as a CIDR"
		if !strings.Contains(cidr, "/") {
			if parsed := net.ParseIP(cidr); parsed != nil {
				if parsed.To4() != nil && !strings.Contains(cidr, ":") {
					detail += fmt.Sprintf(" (did you mean \"%s/32\")", cidr)
				} else {
					detail += fmt.Sprintf(" (did you mean \"%s/64\")", cidr)
				}
			}
		}
		return field.ErrorList{field.Invalid(path, cidr, detail)}
	}
	if !ip.Equal(n.IP) {
		size, _ := n.Mask.Size()
		return field.ErrorList{field.Invalid(path, cidr, fmt.Sprintf("Network contains bits outside prefix (did you mean \"%s/%d\")", n.IP, size))}
	}
	return nil
}

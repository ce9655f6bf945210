package stack

import (
	"crypto/sha256"
	"encoding/hex"
)

// TypeImportedCertificate is the resource type of a certificate imported
// into ACM from a Kubernetes Secret. The AWS Load Balancer Controller has no
// such resource: elbow adds it for Gateway listener certificateRefs.
const TypeImportedCertificate = "K8S::ACM::ImportedCertificate"

// TagCertificateContent is the tag key the deployer puts on an imported
// certificate, with ImportedCertificateSpec.ContentSHA256 as its value, so
// that a later reconcile knows whether the certificate in ACM is the one the
// Secret holds now.
const TagCertificateContent = "elbow.k8s.aws/certificate-sha256"

// SecretReference names a Kubernetes Secret.
type SecretReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ImportedCertificateSpec is the certificate to import into ACM from a
// Secret of type kubernetes.io/tls.
//
// The contract with the deployer:
//
//   - The spec never holds the private key (the stack JSON is printed by
//     `elbow plan` and written to the dry-run annotation). The deployer reads
//     tls.crt (the certificate, then its chain) and tls.key from the Secret
//     SecretRef names, and imports them only if
//     sha256(tls.crt || 0x00 || tls.key), in lowercase hex, equals
//     ContentSHA256; otherwise the Secret changed after translation and the
//     deployer leaves the certificate alone until the next reconcile.
//   - It finds the certificate it imported before by its tags: the stack
//     tags, the resource ID tag (Stack.ResourceTags) and Tags.
//   - A certificate whose TagCertificateContent tag differs from
//     ContentSHA256 is re-imported in place (ImportCertificate with its
//     CertificateArn), which keeps its ARN; the tag is updated after.
//   - A certificate the stack no longer has is deleted once no listener
//     uses it (the listeners are modified first).
//   - Status.CertificateARN is filled in, so that the listeners' Certificate
//     tokens (RefTo(TypeImportedCertificate, ID, "certificateARN")) resolve.
//
// The resource ID is "<namespace>/<name>" of the Secret; two listeners
// naming the same Secret share one certificate.
type ImportedCertificateSpec struct {
	SecretRef SecretReference `json:"secretRef"`
	// ContentSHA256 identifies the Secret content translation saw.
	ContentSHA256 string `json:"contentSHA256"`
	// DomainNames are the DNS names of the leaf certificate (subject common
	// name first, then the subject alternative names), for display and SNI
	// decisions; they are not sent to ACM.
	DomainNames []string `json:"domainNames,omitempty"`
	// NotAfter is the leaf certificate's expiry, RFC 3339, for display.
	NotAfter string `json:"notAfter,omitempty"`
	// Tags are the certificate's own tags (besides the stack's).
	Tags map[string]string `json:"tags,omitempty"`
}

// ImportedCertificateStatus is what the deployer learns once the
// certificate is in ACM.
type ImportedCertificateStatus struct {
	CertificateARN string `json:"certificateARN"`
}

// ImportedCertificate is an ACM certificate imported from a Secret.
type ImportedCertificate struct {
	ResID  string                     `json:"-"`
	Spec   ImportedCertificateSpec    `json:"spec"`
	Status *ImportedCertificateStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *ImportedCertificate) ID() string { return r.ResID }

// Type returns TypeImportedCertificate.
func (r *ImportedCertificate) Type() string { return TypeImportedCertificate }

// ARN refers to the certificate's ARN.
func (r *ImportedCertificate) ARN() Token {
	return RefTo(TypeImportedCertificate, r.ResID, "certificateARN")
}

// CertificateContentSHA256 is ImportedCertificateSpec.ContentSHA256 of a
// Secret's tls.crt and tls.key: sha256(tls.crt || 0x00 || tls.key), in
// lowercase hex.
func CertificateContentSHA256(crt, key []byte) string {
	h := sha256.New()
	h.Write(crt)
	h.Write([]byte{0})
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))
}

package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// ACM is the part of the ACM client the deployer calls (*acm.Client), for
// the certificates it imports from Secrets (stack.ImportedCertificate).
type ACM interface {
	ListCertificates(context.Context, *acm.ListCertificatesInput, ...func(*acm.Options)) (*acm.ListCertificatesOutput, error)
	ListTagsForCertificate(context.Context, *acm.ListTagsForCertificateInput, ...func(*acm.Options)) (*acm.ListTagsForCertificateOutput, error)
	DescribeCertificate(context.Context, *acm.DescribeCertificateInput, ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
	ImportCertificate(context.Context, *acm.ImportCertificateInput, ...func(*acm.Options)) (*acm.ImportCertificateOutput, error)
	AddTagsToCertificate(context.Context, *acm.AddTagsToCertificateInput, ...func(*acm.Options)) (*acm.AddTagsToCertificateOutput, error)
	RemoveTagsFromCertificate(context.Context, *acm.RemoveTagsFromCertificateInput, ...func(*acm.Options)) (*acm.RemoveTagsFromCertificateOutput, error)
	DeleteCertificate(context.Context, *acm.DeleteCertificateInput, ...func(*acm.Options)) (*acm.DeleteCertificateOutput, error)
}

// Secrets reads the certificate material of the Kubernetes Secrets that
// imported certificates name.
type Secrets interface {
	// TLSSecret returns the Secret's tls.crt and tls.key; a Secret that
	// does not exist is an error.
	TLSSecret(ctx context.Context, namespace, name string) (crt, key []byte, err error)
}

// ErrSecretChanged says that a Secret no longer holds what translation
// saw (ImportedCertificateSpec.ContentSHA256) and no certificate imported
// from it before can stand in: the stack must be translated again.
var ErrSecretChanged = errors.New("the Secret changed after the stack was built")

// allKeyTypes are every key algorithm ACM knows: ListCertificates returns
// only RSA_1024 and RSA_2048 certificates unless told otherwise.
var allKeyTypes = []acmtypes.KeyAlgorithm{
	acmtypes.KeyAlgorithmRsa1024, acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmRsa3072, acmtypes.KeyAlgorithmRsa4096,
	acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmEcSecp384r1, acmtypes.KeyAlgorithmEcSecp521r1,
}

// scanCertificates adds the cluster's imported certificates to the index:
// ListCertificates, then the tags of each IMPORTED one (ACM has no tag
// filter).
func (d *Deployer) scanCertificates(ctx context.Context, add func(key, kind, id string)) error {
	p := acm.NewListCertificatesPaginator(d.cfg.ACM, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: allKeyTypes}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("ListCertificates: %w", err)
		}
		for _, c := range page.CertificateSummaryList {
			if c.Type != acmtypes.CertificateTypeImported {
				continue
			}
			arn := aws.ToString(c.CertificateArn)
			out, err := d.cfg.ACM.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
			if isCode(err, "ResourceNotFoundException") {
				continue
			}
			if err != nil {
				return fmt.Errorf("ListTagsForCertificate %s: %w", arn, err)
			}
			if key, ok := d.ownerKey(acmTags(out.Tags)); ok {
				add(key, "cert", arn)
			}
		}
	}
	return nil
}

// readCertificates loads the tags of the certificates the stack owns;
// certificates gone from ACM leave the index.
func (r *run) readCertificates(ctx context.Context) error {
	r.certs = map[string]string{}
	if len(r.own.certs) == 0 {
		return nil
	}
	if r.d.cfg.ACM == nil {
		return errors.New("the stack owns ACM certificates but the deployer has no ACM client")
	}
	for _, arn := range keys(r.own.certs) {
		out, err := r.d.cfg.ACM.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
		if isCode(err, "ResourceNotFoundException") {
			r.d.note(r.s, "cert", arn, false)
			continue
		}
		if err != nil {
			return r.fail(fmt.Errorf("ListTagsForCertificate %s: %w", arn, err))
		}
		t := acmTags(out.Tags)
		r.tags[arn] = t
		id := r.resourceID(t)
		if _, dup := r.certs[id]; dup || id == "" {
			r.doomedCerts = append(r.doomedCerts, arn)
			continue
		}
		r.certs[id] = arn
	}
	return nil
}

// certificates imports the stack's certificates that ACM lacks or holds
// with other content, fills their status, and dooms the owned ones the
// stack no longer has (deleted once no listener uses them).
func (r *run) certificates(ctx context.Context) error {
	if len(r.s.ImportedCertificates) > 0 && (r.d.cfg.ACM == nil || r.d.cfg.Secrets == nil) {
		return errors.New("the stack imports certificates from Secrets but the deployer has no ACM client or no Secret reader")
	}
	for _, id := range sortedKeys(r.s.ImportedCertificates) {
		c := r.s.ImportedCertificates[id]
		if err := r.certificate(ctx, c); err != nil {
			return fmt.Errorf("certificate from Secret %s/%s: %w", c.Spec.SecretRef.Namespace, c.Spec.SecretRef.Name, err)
		}
	}
	for _, id := range sortedKeys(r.certs) {
		if _, ok := r.s.ImportedCertificates[id]; !ok {
			r.doomedCerts = append(r.doomedCerts, r.certs[id])
		}
	}
	return nil
}

func (r *run) certificate(ctx context.Context, c *stack.ImportedCertificate) error {
	want := r.desiredTags(c, c.Spec.Tags)
	want[stack.TagCertificateContent] = c.Spec.ContentSHA256
	arn, exists := r.certs[c.ResID]
	if exists && r.tags[arn][stack.TagCertificateContent] == c.Spec.ContentSHA256 {
		c.Status = &stack.ImportedCertificateStatus{CertificateARN: arn}
		return r.syncACMTags(ctx, arn, want)
	}
	ref := c.Spec.SecretRef
	crt, key, err := r.d.cfg.Secrets.TLSSecret(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return fmt.Errorf("read Secret: %w", err)
	}
	if stack.CertificateContentSHA256(crt, key) != c.Spec.ContentSHA256 {
		if exists {
			// The listener keeps the certificate it has until the stack is
			// built from the Secret's new content.
			r.log.Info("certificate Secret changed since translation; the imported certificate is kept until the next reconcile", "secret", ref.Namespace+"/"+ref.Name, "arn", arn)
			c.Status = &stack.ImportedCertificateStatus{CertificateARN: arn}
			return nil
		}
		return ErrSecretChanged
	}
	leaf, chain, alg, err := splitCertificate(crt)
	if err != nil {
		return err
	}
	if exists {
		same, err := r.sameKeyAlgorithm(ctx, arn, alg)
		if err != nil {
			return err
		}
		if same {
			// Re-imported in place: the ARN, and the listeners using it, stay.
			if _, err := r.d.cfg.ACM.ImportCertificate(ctx, &acm.ImportCertificateInput{
				CertificateArn: aws.String(arn), Certificate: leaf, CertificateChain: chain, PrivateKey: key,
			}); err != nil {
				return r.fail(fmt.Errorf("ImportCertificate (re-import %s): %w", arn, err))
			}
			r.changed("Certificate", "re-imported", "arn", arn)
			c.Status = &stack.ImportedCertificateStatus{CertificateARN: arn}
			return r.syncACMTags(ctx, arn, want)
		}
		// ACM re-imports only with the same key type and size: import a new
		// certificate; the old one goes once the listeners use the new one.
		r.doomedCerts = append(r.doomedCerts, arn)
	}
	out, err := r.d.cfg.ACM.ImportCertificate(ctx, &acm.ImportCertificateInput{
		Certificate: leaf, CertificateChain: chain, PrivateKey: key, Tags: acmTagList(want),
	})
	if err != nil {
		return r.fail(fmt.Errorf("ImportCertificate: %w", err))
	}
	arn = aws.ToString(out.CertificateArn)
	r.d.note(r.s, "cert", arn, true)
	r.changed("Certificate", "imported", "arn", arn)
	c.Status = &stack.ImportedCertificateStatus{CertificateARN: arn}
	return nil
}

// sameKeyAlgorithm reports whether a certificate in ACM has the key
// algorithm alg (in ListCertificates' form, RSA_2048).
func (r *run) sameKeyAlgorithm(ctx context.Context, arn, alg string) (bool, error) {
	out, err := r.d.cfg.ACM.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		return false, r.fail(fmt.Errorf("DescribeCertificate %s: %w", arn, err))
	}
	if out.Certificate == nil {
		return false, nil
	}
	// DescribeCertificate spells it RSA-2048, ListCertificates RSA_2048.
	return strings.ReplaceAll(string(out.Certificate.KeyAlgorithm), "-", "_") == alg, nil
}

// removeCertificates deletes doomed certificates, waiting while ELB
// still reports them in use by listeners being changed or deleted.
func (r *run) removeCertificates(ctx context.Context) error {
	for _, arn := range r.doomedCerts {
		err := r.retryInUse(ctx, func() error {
			_, err := r.d.cfg.ACM.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: aws.String(arn)})
			if isCode(err, "ResourceNotFoundException") {
				return nil
			}
			return err
		})
		if err != nil {
			return r.fail(fmt.Errorf("certificate %s: DeleteCertificate: %w", arn, err))
		}
		r.d.note(r.s, "cert", arn, false)
		r.changed("Certificate", "deleted", "arn", arn)
	}
	return nil
}

// syncACMTags makes a certificate's tags want.
func (r *run) syncACMTags(ctx context.Context, arn string, want map[string]string) error {
	set, remove := r.tagDiff(r.tags[arn], want)
	if len(set) > 0 {
		if _, err := r.d.cfg.ACM.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: aws.String(arn), Tags: acmTagList(set)}); err != nil {
			return r.fail(fmt.Errorf("AddTagsToCertificate: %w", err))
		}
	}
	if len(remove) > 0 {
		tl := make([]acmtypes.Tag, 0, len(remove))
		for _, k := range remove {
			tl = append(tl, acmtypes.Tag{Key: aws.String(k)})
		}
		if _, err := r.d.cfg.ACM.RemoveTagsFromCertificate(ctx, &acm.RemoveTagsFromCertificateInput{CertificateArn: aws.String(arn), Tags: tl}); err != nil {
			return r.fail(fmt.Errorf("RemoveTagsFromCertificate: %w", err))
		}
	}
	return nil
}

// splitCertificate splits tls.crt into the leaf certificate and the chain
// (the PEM certificates after it), as ImportCertificate takes them, and
// returns the leaf's key algorithm in ACM's form (RSA_2048,
// EC_prime256v1).
func splitCertificate(crt []byte) (leaf, chain []byte, alg string, err error) {
	rest := crt
	var blocks [][]byte
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			blocks = append(blocks, pem.EncodeToMemory(b))
		}
	}
	if len(blocks) == 0 {
		return nil, nil, "", errors.New("tls.crt holds no PEM certificate")
	}
	der, _ := pem.Decode(blocks[0])
	cert, err := x509.ParseCertificate(der.Bytes)
	if err != nil {
		return nil, nil, "", fmt.Errorf("tls.crt: %w", err)
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		alg = fmt.Sprintf("RSA_%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		alg = map[string]string{"P-256": "EC_prime256v1", "P-384": "EC_secp384r1", "P-521": "EC_secp521r1"}[k.Curve.Params().Name]
	}
	if alg == "" {
		return nil, nil, "", fmt.Errorf("tls.crt: a %T key; ACM imports RSA and ECDSA (P-256, P-384, P-521) keys", cert.PublicKey)
	}
	for _, b := range blocks[1:] {
		chain = append(chain, b...)
	}
	return blocks[0], chain, alg, nil
}

func acmTags(tags []acmtypes.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

func acmTagList(m map[string]string) []acmtypes.Tag {
	out := make([]acmtypes.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, acmtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

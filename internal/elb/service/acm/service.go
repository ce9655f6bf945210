// Package acm is the local ELB's AWS Certificate Manager: certificates
// imported from PEM or requested and issued at once by a local CA kept in
// the state, listed, described, fetched, tagged and deleted with ACM's
// semantics (default key-type filter, InUseBy from listeners,
// ResourceInUseException while a listener uses one).
//
// Each exported method of Service is one ACM API operation taking and
// returning the aws-sdk-go-v2 acm types; the wire layer serves them over
// JSON 1.1. Provision and TLSCertificate are for the rest of the local ELB
// (auto-provisioned certificates, TLS listeners).
package acm

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Config configures the ACM service.
type Config struct {
	// Store is the local ELB's state.
	Store *state.Store
	// Region and AccountID identify the local cloud (facts defaults when
	// empty).
	Region    string
	AccountID string
	// Logger receives a line per write; nil discards.
	Logger *slog.Logger
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// AutoProvisionReferences makes DescribeCertificate, GetCertificate
	// and ListTagsForCertificate of a certificate ACM does not hold (an
	// ARN of ACM's shape, in any region and account) issue it from the
	// local CA first (ProvisionReference), logging a warning. Off by
	// default: ResourceNotFoundException, as on AWS.
	AutoProvisionReferences bool
	// AutoProvisionDomain is the domain name of auto-provisioned
	// certificates (AutoProvisionDomain("REGION.elb.localhost") when
	// empty); the local ELB passes its load balancers' DNS domain.
	AutoProvisionDomain string
}

// Service implements the ACM API operations. It is safe for concurrent use.
type Service struct {
	store   *state.Store
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time
	// autoProv and autoDomain: AutoProvisionReferences.
	autoProv   bool
	autoDomain string
	// tokens seal ListCertificates' NextTokens (the sort key of the last
	// certificate returned).
	tokens pagetoken.Sealer
}

// New returns the ACM service on cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, region: cfg.Region, account: cfg.AccountID, log: cfg.Logger, now: cfg.Now,
		autoProv: cfg.AutoProvisionReferences, autoDomain: cfg.AutoProvisionDomain, tokens: pagetoken.New(cfg.Store.TokenKey())}
	if s.region == "" {
		s.region = facts.DefaultRegion
	}
	if s.account == "" {
		s.account = facts.DefaultAccountID
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.autoDomain == "" {
		s.autoDomain = AutoProvisionDomain(s.region + ".elb.localhost")
	}
	return s
}

// readCert runs fn, a read of the certificate arn, in a read transaction.
// With AutoProvisionReferences, when ACM does not hold the certificate
// and arn has ACM's shape, it is issued first (ProvisionReference) in a
// write transaction that then runs fn; the warning is logged once that
// has committed.
func (s *Service) readCert(ctx context.Context, action, arn string, fn func(*state.Tx) error) error {
	err := s.view(ctx, fn)
	if !s.autoProv || !awserr.Is(err, "ResourceNotFoundException") || !ProvisionableARN(arn) {
		return err
	}
	req := autoprovision.NewRequest(action)
	err = s.update(ctx, action, arn, func(tx *state.Tx) error {
		req.Reset()
		if _, _, err := ProvisionReference(tx, req, arn, "CertificateArn", s.autoDomain, s.now()); err != nil {
			return err
		}
		return fn(tx)
	})
	if err == nil {
		req.Log(ctx, s.log)
	}
	return err
}

func (s *Service) update(ctx context.Context, action, arn string, fn func(*state.Tx) error) error {
	err := s.store.Update(ctx, fn)
	attrs := []slog.Attr{slog.String("action", action), slog.String("arn", arn)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.String("result", "ok"))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "acm write", attrs...)
	return err
}

func (s *Service) view(ctx context.Context, fn func(*state.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.store.View(fn)
}

// arnPattern is ACM's documented CertificateArn pattern.
var arnPattern = regexp.MustCompile(`^arn:[\w+=/,.@-]+:acm:[\w+=/,.@-]*:[0-9]+:[\w+=,.@-]+(/[\w+=,.@-]+)*$`)

// checkARN validates a certificate ARN parameter.
func checkARN(arn *string) (string, error) {
	if arn == nil {
		return "", awserr.New("ValidationException", "1 validation error detected: Value null at 'certificateArn' failed to satisfy constraint: Member must not be null")
	}
	a := *arn
	if len(a) < 20 || len(a) > 2048 || !arnPattern.MatchString(a) {
		return "", awserr.New("ValidationException", "1 validation error detected: Value '%s' at 'certificateArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:acm:[\\w+=/,.@-]*:[0-9]+:[\\w+=,.@-]+(/[\\w+=,.@-]+)*", a)
	}
	parts := strings.SplitN(a, ":", 6)
	if !strings.HasPrefix(parts[5], "certificate/") || len(parts[5]) == len("certificate/") {
		return "", awserr.New("InvalidArnException", "String '%s' is not a valid ARN.", a)
	}
	return a, nil
}

func notFound(arn string) error {
	return awserr.New("ResourceNotFoundException", "Could not find certificate %s.", arn)
}

// get loads a certificate by a validated ARN.
func get(tx *state.Tx, arn string) (*state.Certificate, error) {
	c, ok, err := state.Get(tx, state.Certificates, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(arn)
	}
	return c, nil
}

// inUseBy returns the load balancers whose listeners use a certificate,
// sorted.
func inUseBy(tx *state.Tx, arn string) ([]string, error) {
	set := map[string]bool{}
	err := state.ForEachPrefix(tx, state.Listeners, "", func(l *state.Listener) error {
		for _, c := range l.Certificates {
			if c.ARN == arn {
				set[l.LoadBalancerARN] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, err
}

// ImportCertificate imports a PEM certificate, its unencrypted private
// key (which must match) and an optional chain, as a new certificate or,
// with CertificateArn, re-importing into an existing one (tags are then
// not accepted).
func (s *Service) ImportCertificate(ctx context.Context, in *acm.ImportCertificateInput) (*acm.ImportCertificateOutput, error) {
	if len(in.Certificate) == 0 {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value null at 'certificate' failed to satisfy constraint: Member must not be null")
	}
	if len(in.PrivateKey) == 0 {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value null at 'privateKey' failed to satisfy constraint: Member must not be null")
	}
	var arn string
	if in.CertificateArn != nil {
		a, err := checkARN(in.CertificateArn)
		if err != nil {
			return nil, err
		}
		if len(in.Tags) > 0 {
			return nil, awserr.New("InvalidParameterException", "Tags are not supported when reimporting a certificate.")
		}
		arn = a
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	c, err := importMaterial(in.Certificate, in.PrivateKey, in.CertificateChain)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	if arn == "" {
		arn = NewARN(s.region, s.account)
	}
	err = s.update(ctx, "ImportCertificate", arn, func(tx *state.Tx) error {
		c.ARN, c.Type, c.Status, c.ImportedAt = arn, "IMPORTED", "ISSUED", now
		c.CreatedAt = now
		if in.CertificateArn != nil {
			old, err := get(tx, arn)
			if err != nil {
				return err
			}
			if old.Type != "IMPORTED" {
				return awserr.New("ValidationException", "Certificate %s was not imported: only imported certificates can be reimported.", arn)
			}
			c.CreatedAt = old.CreatedAt
		}
		if err := state.Put(tx, state.Certificates, c); err != nil {
			return err
		}
		return addTags(tx, arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &acm.ImportCertificateOutput{CertificateArn: aws.String(arn)}, nil
}

// idempotency remembers a RequestCertificate token for an hour.
type idempotency struct {
	ARN string    `json:"arn"`
	At  time.Time `json:"at"`
}

var tokenPattern = regexp.MustCompile(`^\w{1,32}$`)

// RequestCertificate issues a certificate at once from the local CA for
// DomainName and SubjectAlternativeNames with the requested key algorithm
// (RSA_2048 by default; EC_prime256v1 and EC_secp384r1 too, as ACM allows
// for requests). A repeated IdempotencyToken within an hour returns the
// same ARN.
func (s *Service) RequestCertificate(ctx context.Context, in *acm.RequestCertificateInput) (*acm.RequestCertificateOutput, error) {
	alg := string(in.KeyAlgorithm)
	switch alg {
	case "":
		alg = "RSA_2048"
	case "RSA_2048", "EC_prime256v1", "EC_secp384r1":
	default:
		return nil, awserr.New("ValidationException", "Key algorithm %s is not supported for a certificate request. Supported: RSA_2048, EC_prime256v1, EC_secp384r1.", alg)
	}
	if in.ValidationMethod != "" && in.ValidationMethod != types.ValidationMethodDns && in.ValidationMethod != types.ValidationMethodEmail {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '%s' at 'validationMethod' failed to satisfy constraint: Member must satisfy enum value set: [EMAIL, DNS]", in.ValidationMethod)
	}
	if in.IdempotencyToken != nil && !tokenPattern.MatchString(*in.IdempotencyToken) {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '%s' at 'idempotencyToken' failed to satisfy constraint: Member must satisfy regular expression pattern: \\w+", *in.IdempotencyToken)
	}
	domains, err := checkDomains(aws.ToString(in.DomainName), in.SubjectAlternativeNames)
	if err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	typ := "AMAZON_ISSUED"
	if in.CertificateAuthorityArn != nil {
		typ = "PRIVATE"
	}
	now := s.now()
	arn := NewARN(s.region, s.account)
	err = s.update(ctx, "RequestCertificate", arn, func(tx *state.Tx) error {
		var tokenKey string
		if in.IdempotencyToken != nil {
			tokenKey = "acm.idempotency." + *in.IdempotencyToken
			var prev idempotency
			if raw := tx.GetMeta(tokenKey); raw != nil && json.Unmarshal(raw, &prev) == nil && now.Sub(prev.At) < time.Hour {
				if _, ok, err := state.Get(tx, state.Certificates, prev.ARN); err != nil {
					return err
				} else if ok {
					arn = prev.ARN
					return nil
				}
			}
		}
		c, err := Provision(tx, Params{ARN: arn, DomainName: domains[0], SubjectAlternativeNames: domains[1:], KeyAlgorithm: alg, Type: typ, Now: now})
		if err != nil {
			return awserr.Internal(err)
		}
		if err := addTags(tx, c.ARN, in.Tags); err != nil {
			return err
		}
		if tokenKey != "" {
			raw, _ := json.Marshal(idempotency{ARN: arn, At: now})
			return tx.PutMeta(tokenKey, raw)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &acm.RequestCertificateOutput{CertificateArn: aws.String(arn)}, nil
}

// defaultKeyTypes is what ListCertificates returns without Includes:
// "Default filtering returns only RSA_1024 and RSA_2048 certificates".
var defaultKeyTypes = []types.KeyAlgorithm{types.KeyAlgorithmRsa1024, types.KeyAlgorithmRsa2048}

// certUsages returns the key usages and extended key usages of a
// certificate as ACM names them.
func certUsages(c *state.Certificate) (ku []types.KeyUsageName, eku []types.ExtendedKeyUsageName) {
	leaf, err := parseLeaf([]byte(c.CertificatePEM))
	if err != nil {
		return nil, nil
	}
	for _, u := range []struct {
		bit  int
		name types.KeyUsageName
	}{
		{1 << 0, types.KeyUsageNameDigitalSignature}, {1 << 1, types.KeyUsageNameNonRepudation},
		{1 << 2, types.KeyUsageNameKeyEncipherment}, {1 << 3, types.KeyUsageNameDataEncipherment},
		{1 << 4, types.KeyUsageNameKeyAgreement}, {1 << 5, types.KeyUsageNameCertificateSigning},
		{1 << 6, types.KeyUsageNameCrlSigning}, {1 << 7, types.KeyUsageNameEnchiperOnly},
		{1 << 8, types.KeyUsageNameDecipherOnly},
	} {
		if int(leaf.KeyUsage)&u.bit != 0 {
			ku = append(ku, u.name)
		}
	}
	names := map[int]types.ExtendedKeyUsageName{
		1: types.ExtendedKeyUsageNameTlsWebServerAuthentication, 2: types.ExtendedKeyUsageNameTlsWebClientAuthentication,
		3: types.ExtendedKeyUsageNameCodeSigning, 4: types.ExtendedKeyUsageNameEmailProtection,
		7: types.ExtendedKeyUsageNameIpsecEndSystem, 8: types.ExtendedKeyUsageNameIpsecTunnel,
		9: types.ExtendedKeyUsageNameIpsecUser, 10: types.ExtendedKeyUsageNameTimeStamping,
		11: types.ExtendedKeyUsageNameOcspSigning, 0: types.ExtendedKeyUsageNameAny,
	}
	for _, e := range leaf.ExtKeyUsage {
		if n, ok := names[int(e)]; ok {
			eku = append(eku, n)
		} else {
			eku = append(eku, types.ExtendedKeyUsageNameCustom)
		}
	}
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		eku = append(eku, types.ExtendedKeyUsageNameNone)
	}
	return ku, eku
}

func renewalEligibility(c *state.Certificate, inUse bool) types.RenewalEligibility {
	if c.Type == "AMAZON_ISSUED" && inUse {
		return types.RenewalEligibilityEligible
	}
	return types.RenewalEligibilityIneligible
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// ListCertificates lists certificates filtered by CertificateStatuses
// (all by default) and Includes (keyTypes — RSA_1024 and RSA_2048 only
// when absent, as ACM does —, keyUsage, extendedKeyUsage, managedBy,
// exportOption), sorted by ARN or by SortBy CREATED_AT, paginated with
// MaxItems 1–1000 and NextToken.
func (s *Service) ListCertificates(ctx context.Context, in *acm.ListCertificatesInput) (*acm.ListCertificatesOutput, error) {
	if in.MaxItems != nil && (*in.MaxItems < 1 || *in.MaxItems > 1000) {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", *in.MaxItems)
	}
	if in.SortBy != "" && in.SortBy != types.SortByCreatedAt {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '%s' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [CREATED_AT]", in.SortBy)
	}
	if in.SortOrder != "" && in.SortOrder != types.SortOrderAscending && in.SortOrder != types.SortOrderDescending {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [ASCENDING, DESCENDING]", in.SortOrder)
	}
	after := ""
	tokens := s.tokens.Scope("ListCertificates")
	if in.NextToken != nil && *in.NextToken != "" {
		var ok bool
		if after, ok = tokens.Open(*in.NextToken); !ok {
			return nil, awserr.New("InvalidArgsException", "The NextToken is not valid.")
		}
	}
	statuses := map[string]bool{}
	for _, st := range in.CertificateStatuses {
		statuses[string(st)] = true
	}
	keyTypes := defaultKeyTypes
	var inc types.Filters
	if in.Includes != nil {
		inc = *in.Includes
		if len(inc.KeyTypes) > 0 {
			keyTypes = inc.KeyTypes
		}
	}
	wantKey := map[string]bool{}
	for _, k := range keyTypes {
		wantKey[string(k)] = true
	}
	type item struct {
		key string
		sum types.CertificateSummary
	}
	var items []item
	err := s.view(ctx, func(tx *state.Tx) error {
		return state.ForEachPrefix(tx, state.Certificates, "", func(c *state.Certificate) error {
			if len(statuses) > 0 && !statuses[c.Status] {
				return nil
			}
			if !wantKey[c.KeyAlgorithm] {
				return nil
			}
			ku, eku := certUsages(c)
			if !containsAny(inc.KeyUsage, ku) || !containsAny(inc.ExtendedKeyUsage, eku) {
				return nil
			}
			if inc.ManagedBy != "" {
				return nil // no certificate here is managed by another service
			}
			if inc.ExportOption == types.CertificateExportEnabled {
				return nil
			}
			users, err := inUseBy(tx, c.ARN)
			if err != nil {
				return err
			}
			sans := c.SubjectAlternativeNames
			if len(sans) == 0 {
				sans = []string{c.DomainName}
			}
			sum := types.CertificateSummary{
				CertificateArn:                       aws.String(c.ARN),
				DomainName:                           aws.String(c.DomainName),
				SubjectAlternativeNameSummaries:      sans,
				HasAdditionalSubjectAlternativeNames: aws.Bool(false),
				Status:                               types.CertificateStatus(c.Status),
				Type:                                 types.CertificateType(c.Type),
				KeyAlgorithm:                         types.KeyAlgorithm(c.KeyAlgorithm),
				KeyUsages:                            ku,
				ExtendedKeyUsages:                    eku,
				InUse:                                aws.Bool(len(users) > 0),
				Exported:                             aws.Bool(false),
				ExportOption:                         types.CertificateExportDisabled,
				RenewalEligibility:                   renewalEligibility(c, len(users) > 0),
				NotBefore:                            timeOrNil(c.NotBefore),
				NotAfter:                             timeOrNil(c.NotAfter),
				CreatedAt:                            timeOrNil(c.CreatedAt),
				IssuedAt:                             timeOrNil(c.IssuedAt),
				ImportedAt:                           timeOrNil(c.ImportedAt),
			}
			key := c.ARN
			if in.SortBy == types.SortByCreatedAt {
				key = c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.ARN
			}
			items = append(items, item{key: key, sum: sum})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	desc := in.SortOrder == types.SortOrderDescending
	sort.Slice(items, func(i, j int) bool {
		if desc {
			return items[i].key > items[j].key
		}
		return items[i].key < items[j].key
	})
	start := 0
	if after != "" {
		start = sort.Search(len(items), func(i int) bool {
			if desc {
				return items[i].key < after
			}
			return items[i].key > after
		})
	}
	items = items[start:]
	out := &acm.ListCertificatesOutput{CertificateSummaryList: []types.CertificateSummary{}}
	n := len(items)
	if in.MaxItems != nil && int(*in.MaxItems) < n {
		n = int(*in.MaxItems)
		out.NextToken = aws.String(tokens.Seal(items[n-1].key))
	}
	for _, it := range items[:n] {
		out.CertificateSummaryList = append(out.CertificateSummaryList, it.sum)
	}
	return out, nil
}

func containsAny[T ~string](want, have []T) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		for _, h := range have {
			if w == h || w == "ANY" {
				return true
			}
		}
	}
	return false
}

// ekuOIDs are the OIDs DescribeCertificate shows for extended key usages.
var ekuOIDs = map[types.ExtendedKeyUsageName]string{
	types.ExtendedKeyUsageNameTlsWebServerAuthentication: "1.3.6.1.5.5.7.3.1",
	types.ExtendedKeyUsageNameTlsWebClientAuthentication: "1.3.6.1.5.5.7.3.2",
	types.ExtendedKeyUsageNameCodeSigning:                "1.3.6.1.5.5.7.3.3",
	types.ExtendedKeyUsageNameEmailProtection:            "1.3.6.1.5.5.7.3.4",
	types.ExtendedKeyUsageNameTimeStamping:               "1.3.6.1.5.5.7.3.8",
	types.ExtendedKeyUsageNameOcspSigning:                "1.3.6.1.5.5.7.3.9",
}

// describeKeyAlgorithm is the KeyAlgorithm DescribeCertificate reports:
// ACM writes it with a hyphen there (RSA-2048, EC-prime256v1), unlike
// ListCertificates' RSA_2048.
func describeKeyAlgorithm(alg string) types.KeyAlgorithm {
	return types.KeyAlgorithm(strings.Replace(alg, "_", "-", 1))
}

func signatureAlgorithm(c *state.Certificate) string {
	leaf, err := parseLeaf([]byte(c.CertificatePEM))
	if err != nil {
		return ""
	}
	switch leaf.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA256WithRSAPSS:
		return "SHA256WITHRSA"
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS:
		return "SHA384WITHRSA"
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS:
		return "SHA512WITHRSA"
	case x509.SHA1WithRSA:
		return "SHA1WITHRSA"
	case x509.ECDSAWithSHA256:
		return "SHA256WITHECDSA"
	case x509.ECDSAWithSHA384:
		return "SHA384WITHECDSA"
	case x509.ECDSAWithSHA512:
		return "SHA512WITHECDSA"
	}
	return strings.ToUpper(leaf.SignatureAlgorithm.String())
}

// DescribeCertificate returns a certificate's metadata: names, status,
// type, key algorithm, dates, usages, and InUseBy (the load balancers
// whose listeners use it).
func (s *Service) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput) (*acm.DescribeCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	var d types.CertificateDetail
	err = s.readCert(ctx, "DescribeCertificate", arn, func(tx *state.Tx) error {
		c, err := get(tx, arn)
		if err != nil {
			return err
		}
		users, err := inUseBy(tx, arn)
		if err != nil {
			return err
		}
		ku, eku := certUsages(c)
		d = types.CertificateDetail{
			CertificateArn:          aws.String(c.ARN),
			DomainName:              aws.String(c.DomainName),
			SubjectAlternativeNames: c.SubjectAlternativeNames,
			Status:                  types.CertificateStatus(c.Status),
			Type:                    types.CertificateType(c.Type),
			KeyAlgorithm:            describeKeyAlgorithm(c.KeyAlgorithm),
			SignatureAlgorithm:      aws.String(signatureAlgorithm(c)),
			Serial:                  aws.String(c.Serial),
			Subject:                 aws.String(c.Subject),
			Issuer:                  aws.String(c.Issuer),
			InUseBy:                 users,
			NotBefore:               timeOrNil(c.NotBefore),
			NotAfter:                timeOrNil(c.NotAfter),
			CreatedAt:               timeOrNil(c.CreatedAt),
			IssuedAt:                timeOrNil(c.IssuedAt),
			ImportedAt:              timeOrNil(c.ImportedAt),
			RenewalEligibility:      renewalEligibility(c, len(users) > 0),
			Options:                 &types.CertificateOptions{Export: types.CertificateExportDisabled},
		}
		if len(d.SubjectAlternativeNames) == 0 {
			d.SubjectAlternativeNames = []string{c.DomainName}
		}
		for _, k := range ku {
			d.KeyUsages = append(d.KeyUsages, types.KeyUsage{Name: k})
		}
		for _, e := range eku {
			x := types.ExtendedKeyUsage{Name: e}
			if oid, ok := ekuOIDs[e]; ok {
				x.OID = aws.String(oid)
			}
			d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, x)
		}
		if c.Type == "AMAZON_ISSUED" {
			status := types.DomainStatusSuccess
			if c.Status == "PENDING_VALIDATION" {
				status = types.DomainStatusPendingValidation
			}
			for _, name := range d.SubjectAlternativeNames {
				base := strings.TrimPrefix(name, "*.")
				tok := facts.StableID("x", c.ARN+"/"+name)[2:]
				d.DomainValidationOptions = append(d.DomainValidationOptions, types.DomainValidation{
					DomainName:       aws.String(name),
					ValidationDomain: aws.String(base),
					ValidationMethod: types.ValidationMethodDns,
					ValidationStatus: status,
					ResourceRecord: &types.ResourceRecord{
						Name:  aws.String("_" + tok + "." + base + "."),
						Type:  types.RecordTypeCname,
						Value: aws.String("_" + tok + ".acm-validations.aws."),
					},
				})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &acm.DescribeCertificateOutput{Certificate: &d}, nil
}

// GetCertificate returns an issued certificate and its chain in PEM.
func (s *Service) GetCertificate(ctx context.Context, in *acm.GetCertificateInput) (*acm.GetCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	var out acm.GetCertificateOutput
	err = s.readCert(ctx, "GetCertificate", arn, func(tx *state.Tx) error {
		c, err := get(tx, arn)
		if err != nil {
			return err
		}
		if c.Status == "PENDING_VALIDATION" {
			return awserr.New("RequestInProgressException", "Certificate %s in account %s is still being issued.", arn, s.account)
		}
		out.Certificate = aws.String(c.CertificatePEM)
		if c.ChainPEM != "" {
			out.CertificateChain = aws.String(c.ChainPEM)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteCertificate deletes a certificate and its tags; while a listener
// uses it, ResourceInUseException.
func (s *Service) DeleteCertificate(ctx context.Context, in *acm.DeleteCertificateInput) (*acm.DeleteCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, "DeleteCertificate", arn, func(tx *state.Tx) error {
		if _, err := get(tx, arn); err != nil {
			return err
		}
		users, err := inUseBy(tx, arn)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return awserr.New("ResourceInUseException", "Certificate %s in account %s is in use.", arn, s.account)
		}
		if _, err := state.Delete(tx, state.Tags, arn); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Certificates, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &acm.DeleteCertificateOutput{}, nil
}

// Tag rules of ACM: keys of 1 to 128 characters and values of at most 256
// from letters, spaces, digits and _.:/=+-@; "aws:" is reserved; at most
// 50 tags per certificate.
var tagText = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

const maxTags = 50

func checkTags(tags []types.Tag) error {
	for _, t := range tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		if k == "" || utf8.RuneCountInString(k) > 128 || !tagText.MatchString(k) {
			return awserr.New("InvalidTagException", "Tag key '%s' is not valid: it must be 1 to 128 characters from letters, digits, spaces and _.:/=+-@.", k)
		}
		if utf8.RuneCountInString(v) > 256 || !tagText.MatchString(v) {
			return awserr.New("InvalidTagException", "Tag value '%s' is not valid: it must be at most 256 characters from letters, digits, spaces and _.:/=+-@.", v)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return awserr.New("InvalidTagException", "Tag key '%s' uses the reserved prefix aws:.", k)
		}
	}
	return nil
}

func addTags(tx *state.Tx, arn string, tags []types.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	ts, ok, err := state.Get(tx, state.Tags, arn)
	if err != nil {
		return err
	}
	if !ok {
		ts = &state.TagSet{Resource: arn}
	}
	for _, t := range tags {
		ts.Set(aws.ToString(t.Key), aws.ToString(t.Value))
	}
	if len(ts.Tags) > maxTags {
		return awserr.New("TooManyTagsException", "The request contains too many tags: a certificate can have at most %d tags.", maxTags)
	}
	return state.Put(tx, state.Tags, ts)
}

// AddTagsToCertificate adds or overwrites tags of a certificate.
func (s *Service) AddTagsToCertificate(ctx context.Context, in *acm.AddTagsToCertificateInput) (*acm.AddTagsToCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	err = s.update(ctx, "AddTagsToCertificate", arn, func(tx *state.Tx) error {
		if _, err := get(tx, arn); err != nil {
			return err
		}
		return addTags(tx, arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &acm.AddTagsToCertificateOutput{}, nil
}

// RemoveTagsFromCertificate removes tags: a tag given with a value only
// when the value matches, a tag given without one whatever its value.
func (s *Service) RemoveTagsFromCertificate(ctx context.Context, in *acm.RemoveTagsFromCertificateInput) (*acm.RemoveTagsFromCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, awserr.New("ValidationException", "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	for _, t := range in.Tags {
		if strings.HasPrefix(strings.ToLower(aws.ToString(t.Key)), "aws:") {
			return nil, awserr.New("InvalidTagException", "Tag key '%s' uses the reserved prefix aws:.", aws.ToString(t.Key))
		}
	}
	err = s.update(ctx, "RemoveTagsFromCertificate", arn, func(tx *state.Tx) error {
		if _, err := get(tx, arn); err != nil {
			return err
		}
		ts, ok, err := state.Get(tx, state.Tags, arn)
		if err != nil || !ok {
			return err
		}
		for _, t := range in.Tags {
			have, present := ts.Get(aws.ToString(t.Key))
			if present && (t.Value == nil || *t.Value == have) {
				ts.Remove(aws.ToString(t.Key))
			}
		}
		if len(ts.Tags) == 0 {
			_, err := state.Delete(tx, state.Tags, arn)
			return err
		}
		return state.Put(tx, state.Tags, ts)
	})
	if err != nil {
		return nil, err
	}
	return &acm.RemoveTagsFromCertificateOutput{}, nil
}

// ListTagsForCertificate returns a certificate's tags in the order they
// were added.
func (s *Service) ListTagsForCertificate(ctx context.Context, in *acm.ListTagsForCertificateInput) (*acm.ListTagsForCertificateOutput, error) {
	arn, err := checkARN(in.CertificateArn)
	if err != nil {
		return nil, err
	}
	out := &acm.ListTagsForCertificateOutput{}
	err = s.readCert(ctx, "ListTagsForCertificate", arn, func(tx *state.Tx) error {
		out.Tags = []types.Tag{}
		if _, err := get(tx, arn); err != nil {
			return err
		}
		ts, ok, err := state.Get(tx, state.Tags, arn)
		if err != nil || !ok {
			return err
		}
		for _, t := range ts.Tags {
			out.Tags = append(out.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// API returns the service's descriptor for api.Config.Services (JSON 1.1,
// CertificateManager).
func (s *Service) API() api.Service { return api.ACM(s) }

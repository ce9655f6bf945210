package elbv2

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// ARNs have AWS's shapes:
//
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID   (net/ for network, gwy/ for gateway)
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/LBID/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/NAME/LBID/LID/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:truststore/NAME/ID
//
// with IDs of 16 lowercase hex digits.

// The load balancer types and their ARN segments.
const (
	typeApplication = "application"
	typeNetwork     = "network"
	typeGateway     = "gateway"
)

func typeSegment(lbType string) string {
	switch lbType {
	case typeNetwork:
		return "net"
	case typeGateway:
		return "gwy"
	}
	return "app"
}

func (s *Service) arnPrefix() string {
	return fmt.Sprintf("arn:%s:elasticloadbalancing:%s:%s:", s.partition, s.region, s.account)
}

func (s *Service) lbARN(lbType, name, id string) string {
	return s.arnPrefix() + "loadbalancer/" + typeSegment(lbType) + "/" + name + "/" + id
}

func (s *Service) tgARN(name, id string) string {
	return s.arnPrefix() + "targetgroup/" + name + "/" + id
}

func (s *Service) trustStoreARN(name, id string) string {
	return s.arnPrefix() + "truststore/" + name + "/" + id
}

// listenerARN derives a listener's ARN from its load balancer's.
func listenerARN(lbARN, id string) string {
	return strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + id
}

// ruleARN derives a rule's ARN from its listener's.
func ruleARN(listenerARN, id string) string {
	return strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/" + id
}

// lbARNOfListener returns the load balancer ARN a listener ARN derives from.
func lbARNOfListener(arn string) string {
	i := strings.LastIndexByte(arn, '/')
	if i < 0 {
		return ""
	}
	return strings.Replace(arn[:i], ":listener/", ":loadbalancer/", 1)
}

// arnKind is the kind of ELBv2 resource an ARN names.
type arnKind int

const (
	kindUnknown arnKind = iota
	kindLoadBalancer
	kindTargetGroup
	kindListener
	kindRule
	kindTrustStore
)

var (
	arnRE       = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:(.+)$`)
	lbResRE     = regexp.MustCompile(`^loadbalancer/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}$`)
	tgResRE     = regexp.MustCompile(`^targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}$`)
	lisResRE    = regexp.MustCompile(`^listener/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}/[0-9a-f]{1,32}$`)
	ruleResRE   = regexp.MustCompile(`^listener-rule/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}/[0-9a-f]{1,32}/[0-9a-f]{1,32}$`)
	trustResRE  = regexp.MustCompile(`^truststore/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}$`)
	lambdaARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$`)
)

// kindOf returns what an ARN names.
func kindOf(arn string) arnKind {
	m := arnRE.FindStringSubmatch(arn)
	if m == nil {
		return kindUnknown
	}
	switch res := m[1]; {
	case lbResRE.MatchString(res):
		return kindLoadBalancer
	case tgResRE.MatchString(res):
		return kindTargetGroup
	case lisResRE.MatchString(res):
		return kindListener
	case ruleResRE.MatchString(res):
		return kindRule
	case trustResRE.MatchString(res):
		return kindTrustStore
	}
	return kindUnknown
}

// checkARN returns a ValidationError when arn is not of the kind.
func checkARN(arn string, want arnKind) error {
	if kindOf(arn) == want {
		return nil
	}
	noun := map[arnKind]string{
		kindLoadBalancer: "load balancer", kindTargetGroup: "target group",
		kindListener: "listener", kindRule: "rule", kindTrustStore: "trust store",
	}[want]
	return validation("'%s' is not a valid %s ARN", arn, noun)
}

// nameRE is what ELBv2 names may contain.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// checkName validates a load balancer, target group or trust store name:
// at most 32 characters, alphanumerics and hyphens, no hyphen first or
// last, and for load balancers no "internal-" prefix.
func checkName(noun, name string, lb bool) error {
	switch {
	case name == "":
		return validation("%s name cannot be empty", noun)
	case len(name) > 32:
		return validation("%s name '%s' cannot be longer than '32' characters", noun, name)
	case !nameRE.MatchString(name):
		return validation("%s name '%s' can only contain characters that are alphanumeric characters or hyphens(-)", noun, name)
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return validation("%s name '%s' cannot begin or end with '-'", noun, name)
	case lb && strings.HasPrefix(strings.ToLower(name), "internal-"):
		return validation("%s name '%s' cannot begin with 'internal-'", noun, name)
	}
	return nil
}

// dnsName returns a load balancer's DNS name: NAME-ID.REGION.SUFFIX,
// with "internal-" in front for internal load balancers, lower case.
func (s *Service) dnsName(name, id, scheme string) string {
	n := name + "-" + id + "." + s.region + "." + s.dnsSuffix
	if scheme == schemeInternal {
		n = "internal-" + n
	}
	return strings.ToLower(n)
}

// hostedZones are AWS's published Route 53 hosted zone IDs of Elastic
// Load Balancing ("Elastic Load Balancing endpoints and quotas", AWS
// General Reference): application (and classic) load balancers first,
// network load balancers second.
var hostedZones = map[string][2]string{
	"us-east-1":      {"Z35SXDOTRQ7X7K", "Z26RNL4JYFTOTI"},
	"us-east-2":      {"Z3AADJGX6KTTL2", "ZLMOA37VPKANP"},
	"us-west-1":      {"Z368ELLRRE2KJ0", "Z24FKFUX50B4VW"},
	"us-west-2":      {"Z1H1FL5HABSF5", "Z18D5FSROUN65G"},
	"ca-central-1":   {"ZQSVJUPU6J1EY", "Z2EPGBW3API2WT"},
	"eu-west-1":      {"Z32O12XQLNTSW2", "Z2IFOLAFXWLO4F"},
	"eu-west-2":      {"ZHURV8PSTC4K8", "ZD4D7Y8KGAS4G"},
	"eu-west-3":      {"Z3Q77PNBQS71R4", "Z1CMS0P5QUZ6D5"},
	"eu-central-1":   {"Z215JYRZR1TBD5", "Z3F0SRJ5LGBH90"},
	"ap-south-1":     {"ZP97RAFLXTNZK", "ZVDDRBQ08TROA"},
	"ap-northeast-1": {"Z14GRHDCWA56QT", "Z31USIVHYNEOWT"},
	"ap-northeast-2": {"ZWKZPGTI48KDX", "ZIBE1TIR4HY56"},
	"ap-southeast-1": {"Z1LMS91P8CMLE5", "ZKVM4W9LS7TM"},
	"ap-southeast-2": {"Z1GM3OXH4ZPM65", "ZCT6FZBF4DROD"},
	"sa-east-1":      {"Z2P70J7HTTTPLU", "ZTK26PT1VY4CU"},
}

// hostedZoneID returns the canonical hosted zone ID of a load balancer
// type in the service's region. Regions missing from the table get a
// stable ID of the same shape derived from the region and type.
func (s *Service) hostedZoneID(lbType string) string {
	i := 0
	if lbType != typeApplication {
		i = 1
	}
	if z, ok := hostedZones[s.region]; ok {
		return z[i]
	}
	sum := sha256.Sum256([]byte("elbow/hostedzone/" + s.region + "/" + lbType))
	return "Z" + strings.ToUpper(hex.EncodeToString(sum[:]))[:13]
}

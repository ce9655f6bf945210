package pagetoken

import (
	"encoding/base64"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s := New([]byte("0123456789abcdef0123456789abcdef"))
	lbs := s.Scope("DescribeLoadBalancers")
	tok := lbs.Seal("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1")
	if last, ok := lbs.Open(tok); !ok || last != "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1" {
		t.Fatalf("Open(Seal) = %q, %v", last, ok)
	}
	if last, ok := lbs.Open(lbs.Seal("")); !ok || last != "" {
		t.Errorf("the empty key does not round-trip: %q, %v", last, ok)
	}
	refused := map[string]string{
		"another listing's":         s.Scope("DescribeTargetGroups").Seal("x"),
		"another key's":             New([]byte("other")).Scope("DescribeLoadBalancers").Seal("x"),
		"valid base64, not ours":    base64.RawURLEncoding.EncodeToString([]byte("arn:aws:elasticloadbalancing:forged-marker-x")),
		"an unsealed key":           base64.RawURLEncoding.EncodeToString([]byte("x")),
		"not base64":                "!!!",
		"empty":                     "",
		"one byte changed":          flipLast(tok),
		"a standard-base64 padding": tok + "==",
	}
	for name, tok := range refused {
		if last, ok := lbs.Open(tok); ok {
			t.Errorf("%s token %q opened to %q", name, tok, last)
		}
	}
}

func flipLast(tok string) string {
	b, _ := base64.RawURLEncoding.DecodeString(tok)
	b[len(b)-1] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

// FuzzOpen opens arbitrary tokens: no panic, and only sealed ones open.
func FuzzOpen(f *testing.F) {
	sc := New([]byte("key")).Scope("DescribeRules")
	f.Add(sc.Seal("00010 arn"))
	f.Add("AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		last, ok := sc.Open(tok)
		if ok && sc.Seal(last) != tok {
			t.Errorf("token %q opened to %q, which seals to another token", tok, last)
		}
	})
}

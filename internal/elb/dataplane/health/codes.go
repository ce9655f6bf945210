package health

import (
	"fmt"
	"strconv"
	"strings"
)

// Codes is a parsed success-code matcher: the target group's
// Matcher.HttpCode ("200", "200,202", "200-299") or Matcher.GrpcCode
// ("12", "0-99"). The zero Codes matches nothing.
type Codes struct {
	ranges []codeRange
}

type codeRange struct{ lo, hi int }

// maxCode bounds the numbers a matcher may hold (HTTP status codes have
// three digits; gRPC codes are smaller).
const maxCode = 999

// ParseCodes reads a matcher: comma-separated codes or inclusive ranges
// "LOW-HIGH" of non-negative numbers up to 999. It checks the form only;
// the ranges AWS allows per load balancer type are the API's to enforce.
func ParseCodes(s string) (Codes, error) {
	if strings.TrimSpace(s) == "" {
		return Codes{}, fmt.Errorf("matcher %q: empty; want codes such as 200, 200,202 or 200-299", s)
	}
	var c Codes
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		l, err := parseCode(lo)
		if err != nil {
			return Codes{}, fmt.Errorf("matcher %q: %w", s, err)
		}
		h := l
		if isRange {
			if h, err = parseCode(hi); err != nil {
				return Codes{}, fmt.Errorf("matcher %q: %w", s, err)
			}
			if h < l {
				return Codes{}, fmt.Errorf("matcher %q: range %q runs backwards; write LOW-HIGH", s, item)
			}
		}
		c.ranges = append(c.ranges, codeRange{l, h})
	}
	return c, nil
}

func parseCode(s string) (int, error) {
	if s == "" || len(s) > 3 {
		return 0, fmt.Errorf("code %q is not a number from 0 to %d", s, maxCode)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("code %q is not a number from 0 to %d", s, maxCode)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("code %q is not a number from 0 to %d", s, maxCode)
	}
	return n, nil
}

// Contains reports whether code matches.
func (c Codes) Contains(code int) bool {
	for _, r := range c.ranges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// String renders the matcher in the form ParseCodes reads.
func (c Codes) String() string {
	parts := make([]string, len(c.ranges))
	for i, r := range c.ranges {
		if r.lo == r.hi {
			parts[i] = strconv.Itoa(r.lo)
		} else {
			parts[i] = strconv.Itoa(r.lo) + "-" + strconv.Itoa(r.hi)
		}
	}
	return strings.Join(parts, ",")
}

package alb

import "time"

// httpDate caches the Date header value for one second.
type httpDate struct {
	sec int64
	val []byte
}

func (d *httpDate) get(now time.Time) []byte {
	if s := now.Unix(); s != d.sec {
		d.sec = s
		d.val = now.UTC().AppendFormat(d.val[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	}
	return d.val
}

// hopByHop reports whether a field is connection-specific (RFC 9110
// 7.6.1) and so not forwarded.
func hopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return asciiEqualFold(name, "te")
	case 7:
		return asciiEqualFold(name, "upgrade") || asciiEqualFold(name, "trailer")
	case 10:
		return asciiEqualFold(name, "connection") || asciiEqualFold(name, "keep-alive")
	case 16:
		return asciiEqualFold(name, "proxy-connection")
	case 17:
		return asciiEqualFold(name, "transfer-encoding")
	}
	return false
}

// listed reports whether name is among the Connection header's extra
// tokens.
func listed(name []byte, tokens [][]byte) bool {
	for _, t := range tokens {
		if equalFoldBytes(name, t) {
			return true
		}
	}
	return false
}

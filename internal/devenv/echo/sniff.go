package echo

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"time"
	"unicode/utf8"

	proxyproto "github.com/pires/go-proxyproto"
)

// kind is a detected protocol.
type kind int

const (
	kindRaw kind = iota
	kindProxyV1
	kindProxyV2
	kindTLS
	kindH2
	kindHTTP1
)

// signatures are the first bytes that tell the protocols apart.
var signatures = []struct {
	sig  string
	kind kind
}{
	{"\r\n\r\n\x00\r\nQUIT\n", kindProxyV2},
	{"PROXY ", kindProxyV1},
	{"\x16\x03", kindTLS}, // a TLS handshake record
	{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kindH2},
	{"GET ", kindHTTP1}, {"HEAD ", kindHTTP1}, {"POST ", kindHTTP1}, {"PUT ", kindHTTP1},
	{"DELETE ", kindHTTP1}, {"OPTIONS ", kindHTTP1}, {"PATCH ", kindHTTP1},
	{"CONNECT ", kindHTTP1}, {"TRACE ", kindHTTP1},
}

// classify returns the protocol the first bytes b of a connection show,
// or more when b is a proper prefix of some signature and more bytes
// are needed to tell.
func classify(b []byte) (k kind, more bool) {
	for _, s := range signatures {
		switch {
		case len(b) >= len(s.sig) && string(b[:len(s.sig)]) == s.sig:
			return s.kind, false
		case len(b) < len(s.sig) && s.sig[:len(b)] == string(b):
			more = true
		}
	}
	return kindRaw, more
}

// sniff waits for a connection's first byte (as long as the client takes:
// a raw TCP client may wait before it writes), then for as many more as
// classify needs, for at most sniffTimeout; a client that stops inside a
// signature is echoed like any other. It returns an error only when the
// connection ends before its first byte.
func sniff(br *bufio.Reader, c net.Conn) (kind, error) {
	if _, err := br.Peek(1); err != nil {
		return kindRaw, err
	}
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	defer c.SetReadDeadline(time.Time{})
	for {
		b, _ := br.Peek(br.Buffered())
		k, more := classify(b)
		if !more {
			return k, nil
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return kindRaw, nil
		}
	}
}

// proxyInfo is a PROXY protocol header as the echo reports it.
type proxyInfo struct {
	Version     int       `json:"version"`
	Command     string    `json:"command"`
	Source      string    `json:"source,omitempty"`
	Destination string    `json:"destination,omitempty"`
	TLVs        []tlvInfo `json:"tlvs,omitempty"`
}

// tlvInfo is a PROXY v2 TLV: its type in hex, and its value as text when
// it is printable, else in hex. The AWS TLV (0xEA) carries a subtype byte
// (0x01: the VPC endpoint ID) before its value.
type tlvInfo struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype,omitempty"`
	Value   string `json:"value"`
}

// readProxyHeader reads a PROXY v1 or v2 header.
func readProxyHeader(br *bufio.Reader) (*proxyInfo, error) {
	h, err := proxyproto.Read(br)
	if err != nil {
		return nil, err
	}
	info := &proxyInfo{Version: int(h.Version), Command: "PROXY"}
	if h.Command.IsLocal() {
		info.Command = "LOCAL"
	}
	if h.SourceAddr != nil {
		info.Source = h.SourceAddr.String()
	}
	if h.DestinationAddr != nil {
		info.Destination = h.DestinationAddr.String()
	}
	tlvs, err := h.TLVs()
	if err != nil {
		return nil, fmt.Errorf("PROXY v2 TLVs: %w", err)
	}
	for _, t := range tlvs {
		ti := tlvInfo{Type: fmt.Sprintf("0x%02X", byte(t.Type))}
		v := t.Value
		if byte(t.Type) == 0xEA && len(v) > 0 {
			ti.Subtype = fmt.Sprintf("0x%02X", v[0])
			v = v[1:]
		}
		ti.Value = printable(v)
		info.TLVs = append(info.TLVs, ti)
	}
	return info, nil
}

func printable(b []byte) string {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return string(b)
	}
	return hex.EncodeToString(b)
}

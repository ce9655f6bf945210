package alb

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Access logs follow ALB's entry format
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):
// space-separated fields, "-" for a missing value, written under
// AccessLogDir/<bucket>/<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/
// in files named as ALB names them
// (<account>_elasticloadbalancing_<region>_app.<name>.<id>_<end-time>_<ip>_<random>.log),
// one file per five minutes. ALB delivers gzip files to S3 every five
// minutes; elbow appends plain text and flushes every second, so that a
// developer can follow the file.

// hexDigit are the lower-case hexadecimal digits.
const hexDigit = "0123456789abcdef"

// logEntry is one request's access log fields.
type logEntry struct {
	typ          string // http, https, h2, grpcs, ws, wss
	start        time.Time
	end          time.Time
	client       netip.AddrPort
	target       netip.AddrPort
	reqProc      time.Duration // -1: not measured
	targetProc   time.Duration
	respProc     time.Duration
	elbStatus    int // a status the load balancer generated (0: relayed)
	targetStatus int // 0: none
	received     int64
	sent         int64
	method       []byte
	url          string
	proto        string
	userAgent    []byte
	cipher       string
	tlsProto     string
	tgARN        string
	trace        []byte
	domain       string
	cert         string
	priority     int32 // -1: rules not evaluated
	actions      string
	redirect     string
	errReason    string
}

func (e *logEntry) reset() {
	*e = logEntry{reqProc: -1, targetProc: -1, respProc: -1, priority: -1, method: e.method[:0], trace: e.trace[:0]}
}

// accessLog writes one load balancer's access log.
type accessLog struct {
	dir     string // AccessLogDir/<bucket>/<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>
	account string
	region  string
	lbName  string // app.<name>.<id>
	nodeIP  string
	now     func() time.Time
	log     *slog.Logger

	ch     chan *[]byte
	done   chan struct{}
	closed sync.Once
	pool   sync.Pool
}

// accessLogFor returns the access log writer of a load balancer, opening,
// keeping or closing it as its attributes say. applyMu is held.
func (p *Plane) accessLogFor(rt *lbRuntime, c *lbCfg) *accessLog {
	if p.cfg.AccessLogDir == "" || !c.attrs.AccessLogs || c.attrs.AccessLogBucket == "" {
		rt.closeLog()
		return nil
	}
	key := c.attrs.AccessLogBucket + "\x00" + c.attrs.AccessLogPrefix
	rt.logMu.Lock()
	defer rt.logMu.Unlock()
	if rt.alog != nil && rt.alogKey == key {
		return rt.alog
	}
	if rt.alog != nil {
		rt.alog.close()
	}
	region, account, name := arnParts(rt.arn)
	dir := filepath.Join(p.cfg.AccessLogDir, c.attrs.AccessLogBucket)
	if c.attrs.AccessLogPrefix != "" {
		dir = filepath.Join(dir, filepath.FromSlash(c.attrs.AccessLogPrefix))
	}
	dir = filepath.Join(dir, "AWSLogs", account, "elasticloadbalancing", region)
	l := &accessLog{
		dir:     dir,
		account: account,
		region:  region,
		lbName:  name,
		nodeIP:  "127.0.0.1",
		now:     p.now,
		log:     p.log,
		ch:      make(chan *[]byte, 4096),
		done:    make(chan struct{}),
	}
	if lb := p.lastSnapLB(rt.arn); lb != "" {
		l.nodeIP = lb
	}
	go l.run()
	rt.alog, rt.alogKey = l, key
	return l
}

// lastSnapLB returns the first zone's node address of a load balancer in
// the snapshot being applied.
func (p *Plane) lastSnapLB(arn string) string {
	if snap := p.applying; snap != nil {
		if lb := snap.LoadBalancers[arn]; lb != nil {
			for _, z := range lb.Zones {
				if z.PrivateIPv4Address != "" {
					return z.PrivateIPv4Address
				}
			}
		}
	}
	return ""
}

// arnParts returns the region, account and app.<name>.<id> of a load
// balancer ARN.
func arnParts(arn string) (region, account, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		region, account = parts[3], parts[4]
		name = strings.ReplaceAll(strings.TrimPrefix(parts[5], "loadbalancer/"), "/", ".")
	}
	return region, account, name
}

func (l *accessLog) close() {
	l.closed.Do(func() {
		close(l.ch)
		<-l.done
	})
}

// write queues one entry; when the writer falls behind, entries are
// dropped rather than slowing requests.
func (l *accessLog) write(e *logEntry, lbDim string) {
	bp, _ := l.pool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = e.appendTo((*bp)[:0], lbDim)
	defer func() { recover() }() // the log may close concurrently with a late request
	select {
	case l.ch <- bp:
	default:
		l.pool.Put(bp)
	}
}

func (l *accessLog) run() {
	defer close(l.done)
	var f *os.File
	var w *bufio.Writer
	var periodEnd time.Time
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	closeFile := func() {
		if f != nil {
			w.Flush()
			f.Close()
			f, w = nil, nil
		}
	}
	defer closeFile()
	for {
		select {
		case bp, ok := <-l.ch:
			if !ok {
				return
			}
			now := l.now().UTC()
			if f == nil || !now.Before(periodEnd) {
				closeFile()
				periodEnd = now.Truncate(5 * time.Minute).Add(5 * time.Minute)
				var err error
				f, err = l.open(now, periodEnd)
				if err != nil {
					l.log.Warn("ALB access log not written", "dir", l.dir, "err", err)
					f = nil
					l.pool.Put(bp)
					continue
				}
				w = bufio.NewWriterSize(f, 64<<10)
			}
			w.Write(*bp)
			l.pool.Put(bp)
		case <-tick.C:
			if w != nil {
				w.Flush()
			}
		}
	}
}

func (l *accessLog) open(now, end time.Time) (*os.File, error) {
	dir := filepath.Join(l.dir, now.Format("2006"), now.Format("01"), now.Format("02"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("%s_elasticloadbalancing_%s_%s_%s_%s_%s.log",
		l.account, l.region, l.lbName, end.Format("20060102T1504Z"), l.nodeIP, hex.EncodeToString(rnd[:]))
	return os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// appendTo formats the entry as an ALB access log line.
func (e *logEntry) appendTo(b []byte, lbDim string) []byte {
	b = append(b, e.typ...)
	b = append(b, ' ')
	b = e.end.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = append(b, lbDim...)
	b = append(b, ' ')
	b = appendAddrPort(b, e.client)
	b = append(b, ' ')
	b = appendAddrPort(b, e.target)
	for _, d := range []time.Duration{e.reqProc, e.targetProc, e.respProc} {
		b = append(b, ' ')
		if d < 0 {
			b = append(b, "-1"...)
		} else {
			b = strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64)
		}
	}
	b = append(b, ' ')
	if e.elbStatus > 0 {
		b = appendCode(b, e.elbStatus)
	} else {
		// A response relayed from the target: the load balancer sent
		// the target's status.
		b = appendCode(b, e.targetStatus)
	}
	b = append(b, ' ')
	b = appendCode(b, e.targetStatus)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.received, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.sent, 10)
	b = append(b, " \""...)
	if len(e.method) == 0 {
		b = append(b, "- - - "...)
	} else {
		b = appendQuoted(b, string(e.method))
		b = append(b, ' ')
		b = appendQuoted(b, e.url)
		b = append(b, ' ')
		b = append(b, e.proto...)
	}
	b = append(b, "\" \""...)
	b = appendQuoted(b, string(e.userAgent))
	if len(e.userAgent) == 0 {
		b = append(b, '-')
	}
	b = append(b, "\" "...)
	b = appendDash(b, e.cipher)
	b = append(b, ' ')
	b = appendDash(b, e.tlsProto)
	b = append(b, ' ')
	b = appendDash(b, e.tgARN)
	b = append(b, " \""...)
	if len(e.trace) == 0 {
		b = append(b, '-')
	} else {
		b = appendQuoted(b, string(e.trace))
	}
	b = append(b, "\" \""...)
	b = appendDash(b, e.domain)
	b = append(b, "\" \""...)
	b = appendDash(b, e.cert)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.priority), 10)
	b = append(b, ' ')
	b = e.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, " \""...)
	b = appendDash(b, e.actions)
	b = append(b, "\" \""...)
	b = appendDash(b, e.redirect)
	b = append(b, "\" \""...)
	b = appendDash(b, e.errReason)
	b = append(b, "\" \""...)
	b = appendAddrPort(b, e.target)
	b = append(b, "\" \""...)
	b = appendCode(b, e.targetStatus)
	b = append(b, "\" \"-\" \"-\" -\n"...)
	return b
}

func appendAddrPort(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return a.AppendTo(b)
}

func appendCode(b []byte, c int) []byte {
	if c <= 0 {
		return append(b, '-')
	}
	return strconv.AppendInt(b, int64(c), 10)
}

func appendDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendQuoted(b, s)
}

// appendQuoted appends s with double quotes and control characters
// escaped, as ALB escapes fields inside quotes.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hexDigit[c>>4], hexDigit[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

package h2

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Config is what a connection advertises to its peer and enforces.
type Config struct {
	// MaxConcurrentStreams is how many streams the peer may have open at
	// once (SETTINGS_MAX_CONCURRENT_STREAMS); 0 means 128. A client
	// connection's peer opens none.
	MaxConcurrentStreams uint32
	// StreamWindow is each stream's receive window
	// (SETTINGS_INITIAL_WINDOW_SIZE): how much of its data the peer may
	// send ahead of the reader; 0 means 256 KiB.
	StreamWindow int32
	// ConnWindow is the connection's receive window, shared by its
	// streams; 0 means 1 MiB.
	ConnWindow int32
	// MaxHeaderListSize bounds a received header block, counted as RFC
	// 9113 counts it (SETTINGS_MAX_HEADER_LIST_SIZE); 0 means 64 KiB. A
	// larger block is delivered with Stream.Truncated set.
	MaxHeaderListSize uint32
	// WriteTimeout bounds each write to the socket; 0 means none. A
	// peer that stops reading for longer loses the connection.
	WriteTimeout time.Duration
}

const (
	defaultMaxStreams    = 128
	defaultStreamWindow  = 256 << 10
	defaultConnWindow    = 1 << 20
	defaultMaxHeaderList = 64 << 10
	// initialWindow is the flow-control window every connection and
	// stream starts with (RFC 9113 §6.9.2).
	initialWindow = 65535
	// maxWindow is the largest flow-control window (2^31-1).
	maxWindow = 1<<31 - 1
	// frameSize is the largest frame payload read (the default
	// SETTINGS_MAX_FRAME_SIZE, which this package keeps).
	frameSize = 16384
	// maxQueued bounds the bytes queued for the socket: a writer of
	// DATA waits while more are queued (a peer that reads slowly).
	maxQueued = 256 << 10
	// peerStreamsBeforeSettings is the concurrency a client assumes
	// before the server's SETTINGS arrive.
	peerStreamsBeforeSettings = 100
)

func (c Config) withDefaults() Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = defaultMaxStreams
	}
	if c.StreamWindow <= 0 {
		c.StreamWindow = defaultStreamWindow
	}
	if c.ConnWindow <= 0 {
		c.ConnWindow = defaultConnWindow
	}
	c.StreamWindow = max(c.StreamWindow, initialWindow)
	c.ConnWindow = max(c.ConnWindow, initialWindow)
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = defaultMaxHeaderList
	}
	return c
}

// Errors of connections and streams.
var (
	// ErrClosed is a connection that was closed, or a stream of one.
	ErrClosed = errors.New("http2: connection closed")
	// ErrGoingAway is a connection that takes no new streams (GOAWAY
	// sent or received).
	ErrGoingAway = errors.New("http2: connection going away")
	// ErrStreamLimit is a connection whose peer takes no more concurrent
	// streams for now.
	ErrStreamLimit = errors.New("http2: peer's concurrent stream limit reached")
	// ErrStreamEnded is a write to a stream whose side has ended.
	ErrStreamEnded = errors.New("http2: write after end of stream")
)

// ResetError is a stream reset with RST_STREAM, by the peer (Remote) or
// by this side.
type ResetError struct {
	Code   http2.ErrCode
	Remote bool
}

func (e *ResetError) Error() string {
	if e.Remote {
		return "http2: stream reset by peer: " + e.Code.String()
	}
	return "http2: stream reset: " + e.Code.String()
}

// GoAwayError is a connection the peer ended with GOAWAY: streams above
// LastStreamID were not processed and may be retried elsewhere.
type GoAwayError struct {
	LastStreamID uint32
	Code         http2.ErrCode
}

func (e *GoAwayError) Error() string {
	return fmt.Sprintf("http2: peer sent GOAWAY (%s, last stream %d)", e.Code, e.LastStreamID)
}

// Conn is one HTTP/2 connection. Its methods are safe for concurrent use.
type Conn struct {
	nc     net.Conn
	server bool
	cfg    Config
	br     *bufio.Reader
	fr     *http2.Framer

	// mu guards everything below, the streams' state and the queued
	// output.
	mu sync.Mutex
	// flow wakes writers waiting for flow-control window or for the
	// queue to drain.
	flow    sync.Cond
	out     outBuf // frames queued for the write loop
	kicked  bool   // the write loop has been woken for out
	kick    chan struct{}
	henc    *hpack.Encoder
	hbuf    bytes.Buffer
	streams map[uint32]*Stream
	active  int // streams open
	// lastPeerID is the highest stream id the peer opened (server);
	// nextID the id of the next stream opened here (client).
	lastPeerID uint32
	nextID     uint32
	// recent are the streams closed last, in a ring.
	recent     [recentlyClosedN]closedStream
	recentNext int

	peerMaxFrame   uint32
	peerWindow     int32 // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxStreams uint32
	sendWindow     int64 // connection-level window for DATA sent
	recvWindow     int64 // connection-level window the peer may use
	unacked        int64 // bytes consumed, not yet credited to the peer

	goingAway  bool // GOAWAY sent or received: no new streams
	closeIdle  bool // close once no stream is left (graceful shutdown)
	broken     bool // a connection error: GOAWAY sent, nothing more read
	closed     bool
	err        error
	done       chan struct{}
	readerDone chan struct{}
}

// outBuf is the write loop's queue: frames appended by the framer.
type outBuf struct{ b []byte }

func (o *outBuf) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

func newConn(nc net.Conn, server bool, cfg Config) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		nc:             nc,
		server:         server,
		cfg:            cfg,
		br:             bufio.NewReaderSize(nc, 32<<10),
		kick:           make(chan struct{}, 1),
		streams:        map[uint32]*Stream{},
		nextID:         1,
		peerMaxFrame:   frameSize,
		peerWindow:     initialWindow,
		peerMaxStreams: peerStreamsBeforeSettings,
		sendWindow:     initialWindow,
		recvWindow:     int64(cfg.ConnWindow),
		done:           make(chan struct{}),
		readerDone:     make(chan struct{}),
	}
	c.flow.L = &c.mu
	c.fr = http2.NewFramer(&c.out, c.br)
	c.fr.SetMaxReadFrameSize(frameSize)
	c.fr.SetReuseFrames()
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = cfg.MaxHeaderListSize
	c.henc = hpack.NewEncoder(&c.hbuf)
	if server {
		c.peerMaxStreams = 0
	}
	return c
}

// writeSettings queues this side's SETTINGS and the connection window
// beyond the initial one. mu is held.
func (c *Conn) writeSettings() {
	s := []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.cfg.StreamWindow)},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
	}
	if c.server {
		s = append(s, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentStreams})
	} else {
		s = append(s, http2.Setting{ID: http2.SettingEnablePush, Val: 0}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
	}
	c.fr.WriteSettings(s...)
	if c.cfg.ConnWindow > initialWindow {
		c.fr.WriteWindowUpdate(0, uint32(c.cfg.ConnWindow-initialWindow))
	}
	c.kickLocked()
}

// NewServerConn returns the server side of a connection; Serve runs it.
func NewServerConn(nc net.Conn, cfg Config) *Conn {
	return newConn(nc, true, cfg)
}

// Serve reads the client's preface and serves the connection until it
// closes, calling handler on the read loop for every stream the client
// opens: handler must not block (it starts whatever answers the stream)
// and every stream must be ended or reset by its holder. Serve returns
// once the connection is closed, with what closed it (nil: the client
// went away, or the connection ran out of streams after Shutdown).
func (c *Conn) Serve(handler func(*Stream)) error {
	go c.writeLoop()
	c.mu.Lock()
	c.writeSettings()
	c.mu.Unlock()
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		if err == nil {
			err = errors.New("http2: bad client preface")
		}
		c.fail(err)
		close(c.readerDone)
		return err
	}
	return c.readLoop(handler)
}

// NewClientConn starts the client side of a connection: the preface and
// this side's settings are sent, and the read loop runs until the
// connection closes.
func NewClientConn(nc net.Conn, cfg Config) *Conn {
	c := newConn(nc, false, cfg)
	c.out.b = append(c.out.b, http2.ClientPreface...)
	c.mu.Lock()
	c.writeSettings()
	c.mu.Unlock()
	go c.writeLoop()
	go c.readLoop(nil)
	return c
}

// kickLocked wakes the write loop for what was queued. mu is held.
func (c *Conn) kickLocked() {
	if !c.kicked {
		c.kicked = true
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// writeLoop sends the queued frames, all that have gathered in one write.
func (c *Conn) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// Let the streams that are ready add their frames: one write
		// carries them all.
		runtime.Gosched()
		c.mu.Lock()
		buf := c.out.b
		c.out.b = spare[:0]
		c.kicked = false
		wasFull := len(buf) >= maxQueued
		c.mu.Unlock()
		if wasFull {
			c.flow.Broadcast()
		}
		if len(buf) > 0 {
			if c.cfg.WriteTimeout > 0 {
				c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
			}
			if _, err := c.nc.Write(buf); err != nil {
				c.fail(err)
				return
			}
		}
		spare = buf
		c.mu.Lock()
		finish := c.closeIdle && c.active == 0 && len(c.out.b) == 0
		c.mu.Unlock()
		if finish {
			c.fail(nil)
			return
		}
	}
}

// fail closes the connection and every stream on it; err (nil for a
// graceful end) is what the streams report.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if err == nil {
		err = ErrClosed
	}
	c.err = err
	for _, s := range c.streams {
		s.closeLocked(err)
	}
	close(c.done)
	c.flow.Broadcast()
	c.mu.Unlock()
	c.nc.Close()
}

// Close closes the connection at once.
func (c *Conn) Close() error {
	c.fail(nil)
	return nil
}

// Done is closed once the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed, nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.err
}

// Shutdown sends GOAWAY: the peer opens no new streams and this side
// none either; the connection closes once its open streams end.
func (c *Conn) Shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if !c.goingAway {
		c.goingAway = true
		c.fr.WriteGoAway(c.lastPeerID, http2.ErrCodeNo, nil)
	}
	c.closeIdle = true
	c.kickLocked()
}

// goAwayLocked ends the connection with a connection error: GOAWAY with
// its code, flushed, then close. mu is held.
func (c *Conn) goAwayLocked(code http2.ErrCode) {
	if c.closed {
		return
	}
	c.goingAway = true
	c.broken = true
	c.fr.WriteGoAway(c.lastPeerID, code, nil)
	// Nothing else is sent: the write loop flushes and the connection
	// closes when its queue is empty.
	c.closeIdle = true
	for _, s := range c.streams {
		s.closeLocked(http2.ConnectionError(code))
	}
	c.kickLocked()
}

// Abort ends the connection over a connection error: GOAWAY with code,
// every stream closed, the connection closed once the GOAWAY is out.
func (c *Conn) Abort(code http2.ErrCode) {
	c.mu.Lock()
	c.goAwayLocked(code)
	c.mu.Unlock()
}

// Active returns the number of open streams.
func (c *Conn) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// CanOpen reports whether OpenStream would open a stream now.
func (c *Conn) CanOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.canOpenLocked() == nil
}

func (c *Conn) canOpenLocked() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.goingAway:
		return ErrGoingAway
	case c.server:
		return errors.New("http2: a server does not open streams")
	case uint32(c.active) >= c.peerMaxStreams:
		return ErrStreamLimit
	case c.nextID > maxStreamID:
		return ErrGoingAway
	}
	return nil
}

const maxStreamID = 1<<31 - 1

// OpenStream opens a stream on a client connection with a request's
// header block; end sends END_STREAM with it (a request without body).
func (c *Conn) OpenStream(fields []hpack.HeaderField, end bool) (*Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.canOpenLocked(); err != nil {
		return nil, err
	}
	s := c.newStreamLocked(c.nextID)
	c.nextID += 2
	s.gotHeader = false
	c.writeHeadersLocked(s.id, fields, end)
	if end {
		s.outEnded = true
	}
	return s, nil
}

// newStreamLocked registers a stream. mu is held.
func (c *Conn) newStreamLocked(id uint32) *Stream {
	s := &Stream{
		c:          c,
		id:         id,
		sendWindow: int64(c.peerWindow),
		recvWindow: int64(c.cfg.StreamWindow),
		wantLen:    -1,
		gotHeader:  true,
	}
	s.cond.L = &c.mu
	c.streams[id] = s
	c.active++
	return s
}

// writeHeadersLocked queues a header block: a HEADERS frame and as many
// CONTINUATION frames as the peer's frame size needs. mu is held.
func (c *Conn) writeHeadersLocked(id uint32, fields []hpack.HeaderField, end bool) {
	c.hbuf.Reset()
	for _, f := range fields {
		c.henc.WriteField(f)
	}
	block := c.hbuf.Bytes()
	max := int(c.peerMaxFrame)
	first := block
	if len(first) > max {
		first = first[:max]
	}
	block = block[len(first):]
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(block) == 0})
	for len(block) > 0 {
		frag := block
		if len(frag) > max {
			frag = frag[:max]
		}
		block = block[len(frag):]
		c.fr.WriteContinuation(id, len(block) == 0, frag)
	}
	c.kickLocked()
}

// writeDataLocked queues one DATA frame (without the framer's copy).
// mu is held.
func (c *Conn) writeDataLocked(id uint32, p []byte, end bool) {
	var flags byte
	if end {
		flags = byte(http2.FlagDataEndStream)
	}
	n := len(p)
	c.out.b = append(c.out.b, byte(n>>16), byte(n>>8), byte(n), byte(http2.FrameData), flags,
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	c.out.b = append(c.out.b, p...)
	c.kickLocked()
}

// creditLocked records n bytes of a stream's data consumed (or dropped)
// and sends WINDOW_UPDATE for the connection and the stream once enough
// has gathered. s may be nil (data of a closed stream). mu is held.
func (c *Conn) creditLocked(s *Stream, n int) {
	if n <= 0 || c.closed {
		return
	}
	c.unacked += int64(n)
	if c.unacked >= int64(c.cfg.ConnWindow)/4 {
		c.fr.WriteWindowUpdate(0, uint32(c.unacked))
		c.recvWindow += c.unacked
		c.unacked = 0
		c.kickLocked()
	}
	if s == nil || s.inEnded || s.closed {
		return
	}
	s.unacked += int64(n)
	if s.unacked >= int64(c.cfg.StreamWindow)/4 {
		c.fr.WriteWindowUpdate(s.id, uint32(s.unacked))
		s.recvWindow += s.unacked
		s.unacked = 0
		c.kickLocked()
	}
}

// resetLocked resets a stream with RST_STREAM. mu is held.
func (c *Conn) resetLocked(id uint32, code http2.ErrCode) {
	c.fr.WriteRSTStream(id, code)
	c.kickLocked()
}

// readLoop reads and handles frames until the connection closes.
func (c *Conn) readLoop(handler func(*Stream)) error {
	defer close(c.readerDone)
	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se):
				c.mu.Lock()
				c.streamErrorLocked(se)
				c.mu.Unlock()
				continue
			case errors.As(err, &ce):
				c.mu.Lock()
				c.goAwayLocked(http2.ErrCode(ce))
				c.mu.Unlock()
				c.brokenEnd()
				return err
			case errors.Is(err, http2.ErrFrameTooLarge):
				// A frame beyond SETTINGS_MAX_FRAME_SIZE: a connection
				// error of type FRAME_SIZE_ERROR (RFC 9113 §4.2), its
				// payload unread.
				c.mu.Lock()
				c.goAwayLocked(http2.ErrCodeFrameSize)
				c.mu.Unlock()
				c.brokenEnd()
				return err
			}
			c.fail(err)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if first {
			first = false
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				c.mu.Lock()
				c.goAwayLocked(http2.ErrCodeProtocol)
				c.mu.Unlock()
				c.brokenEnd()
				return errors.New("http2: the peer's first frame is not SETTINGS")
			}
		}
		var start *Stream
		c.mu.Lock()
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			start = c.onHeadersLocked(f)
		case *http2.DataFrame:
			c.onDataLocked(f)
		case *http2.WindowUpdateFrame:
			c.onWindowUpdateLocked(f)
		case *http2.SettingsFrame:
			c.onSettingsLocked(f)
		case *http2.PingFrame:
			if !f.IsAck() {
				c.fr.WritePing(true, f.Data)
				c.kickLocked()
			}
		case *http2.RSTStreamFrame:
			if s := c.streams[f.StreamID]; s != nil && f.ErrCode == http2.ErrCodeNo && s.inEnded {
				// A complete response, and the server wants no more of
				// the request: what was received stays to be read.
				s.outEnded = true
				s.closeLocked(nil)
			} else if s != nil {
				s.closeLocked(&ResetError{Code: f.ErrCode, Remote: true})
			} else if c.idleStreamLocked(f.StreamID) {
				c.goAwayLocked(http2.ErrCodeProtocol)
			}
		case *http2.GoAwayFrame:
			c.goingAway = true
			ge := &GoAwayError{LastStreamID: f.LastStreamID, Code: f.ErrCode}
			for id, s := range c.streams {
				if !c.server && id > f.LastStreamID {
					s.closeLocked(ge)
				}
			}
			if f.ErrCode != http2.ErrCodeNo {
				for _, s := range c.streams {
					s.closeLocked(ge)
				}
			}
			c.closeIdle = true
			c.kickLocked()
		case *http2.PushPromiseFrame:
			// Push is disabled (clients) or not for servers.
			c.goAwayLocked(http2.ErrCodeProtocol)
		case *http2.PriorityFrame:
			// Priorities are advisory; every stream is served alike.
			// A stream cannot depend on itself.
			if f.StreamDep == f.StreamID {
				if s := c.streams[f.StreamID]; s != nil {
					s.closeLocked(&ResetError{Code: http2.ErrCodeProtocol})
				}
				c.resetLocked(f.StreamID, http2.ErrCodeProtocol)
			}
		}
		broken := c.broken
		c.mu.Unlock()
		if start != nil && handler != nil {
			handler(start)
		}
		if broken {
			return c.brokenEnd()
		}
	}
}

// brokenEnd waits (a little) for the write loop to send the GOAWAY of a
// connection error, then closes the connection.
func (c *Conn) brokenEnd() error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	c.fail(nil)
	return errors.New("http2: connection error")
}

// How a stream closed, remembered for the frames that may still come on
// it (RFC 9113 §5.1, state closed).
const (
	closedEnded     uint8 = iota + 1 // both sides ended it
	closedHere                       // reset (or cut short) by this side
	closedByPeer                     // reset by the peer
	recentlyClosedN = 256            // how many closed streams are remembered
)

// closedStream is a stream recently closed.
type closedStream struct {
	id  uint32
	how uint8
}

// noteClosedLocked remembers how a stream closed. mu is held.
func (c *Conn) noteClosedLocked(id uint32, how uint8) {
	c.recent[c.recentNext] = closedStream{id, how}
	c.recentNext = (c.recentNext + 1) % recentlyClosedN
}

// onClosedStreamLocked handles a DATA or HEADERS frame on a stream that
// is no longer open: ignored when this side reset it (the peer may not
// have known yet), a stream error after the peer's own reset or end, a
// connection error for a header block on a stream never opened. mu is
// held.
func (c *Conn) onClosedStreamLocked(id uint32, headers bool) {
	how := uint8(0)
	for _, r := range c.recent {
		if r.id == id {
			how = r.how
		}
	}
	switch how {
	case closedHere:
	case closedByPeer:
		c.resetLocked(id, http2.ErrCodeStreamClosed)
	case closedEnded:
		if headers {
			c.goAwayLocked(http2.ErrCodeStreamClosed)
		} else {
			c.resetLocked(id, http2.ErrCodeStreamClosed)
		}
	default:
		// Not remembered: long closed, or (a header block on a lower
		// id than one opened since) never opened.
		if headers && c.server {
			c.goAwayLocked(http2.ErrCodeProtocol)
		}
	}
}

// idleStreamLocked reports whether id names a stream that was never
// opened (a frame on it is a connection error). mu is held.
func (c *Conn) idleStreamLocked(id uint32) bool {
	if id == 0 {
		return false
	}
	if c.server {
		return id%2 == 1 && id > c.lastPeerID
	}
	return id%2 == 1 && id >= c.nextID
}

// streamErrorLocked resets a stream over a stream error the framer found.
// mu is held.
func (c *Conn) streamErrorLocked(se http2.StreamError) {
	if s := c.streams[se.StreamID]; s != nil {
		s.closeLocked(&ResetError{Code: se.Code})
	} else if c.server && se.StreamID%2 == 1 && se.StreamID > c.lastPeerID {
		// A stream that failed as it opened still consumes its id.
		c.lastPeerID = se.StreamID
	}
	c.resetLocked(se.StreamID, se.Code)
}

// onHeadersLocked handles a header block: a new stream (server), a
// response's headers (client), or trailers. It returns a new stream for
// the handler. mu is held.
func (c *Conn) onHeadersLocked(f *http2.MetaHeadersFrame) *Stream {
	id := f.StreamID
	if f.HasPriority() && f.Priority.StreamDep == id {
		// A stream cannot depend on itself.
		if s := c.streams[id]; s != nil {
			s.closeLocked(&ResetError{Code: http2.ErrCodeProtocol})
		} else if c.server && id > c.lastPeerID {
			c.lastPeerID = id
		}
		c.resetLocked(id, http2.ErrCodeProtocol)
		return nil
	}
	s := c.streams[id]
	if s == nil {
		if !c.server || id%2 == 0 {
			if c.idleStreamLocked(id) || id%2 == 0 {
				c.goAwayLocked(http2.ErrCodeProtocol)
			} else {
				c.onClosedStreamLocked(id, true)
			}
			return nil
		}
		if id <= c.lastPeerID {
			c.onClosedStreamLocked(id, true)
			return nil
		}
		c.lastPeerID = id
		if c.goingAway {
			c.resetLocked(id, http2.ErrCodeRefusedStream)
			return nil
		}
		if uint32(c.active) >= c.cfg.MaxConcurrentStreams {
			c.resetLocked(id, http2.ErrCodeRefusedStream)
			return nil
		}
		if code := checkRequest(f); code != http2.ErrCodeNo {
			c.resetLocked(id, code)
			return nil
		}
		s = c.newStreamLocked(id)
		s.header = append(make([]hpack.HeaderField, 0, len(f.Fields)), f.Fields...)
		s.truncated = f.Truncated
		s.wantLen = contentLength(f.Fields)
		if f.StreamEnded() {
			s.inEnded = true
			if s.wantLen > 0 {
				s.protocolErrorLocked()
				return nil
			}
		}
		return s
	}
	if s.inEnded {
		s.closeLocked(&ResetError{Code: http2.ErrCodeStreamClosed})
		c.resetLocked(id, http2.ErrCodeStreamClosed)
		return nil
	}
	if !s.gotHeader {
		// A response head (client side), perhaps interim ones first.
		status, ok := checkResponse(f)
		if !ok {
			s.protocolErrorLocked()
			return nil
		}
		if status < 200 {
			if f.StreamEnded() {
				s.protocolErrorLocked()
			}
			return nil
		}
		s.header = append(make([]hpack.HeaderField, 0, len(f.Fields)), f.Fields...)
		s.truncated = f.Truncated
		s.wantLen = contentLength(f.Fields)
		s.gotHeader = true
		if f.StreamEnded() {
			s.endInLocked()
		}
		s.cond.Broadcast()
		return nil
	}
	// Trailers: END_STREAM and no pseudo-header fields.
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		s.protocolErrorLocked()
		return nil
	}
	s.trailer = append(make([]hpack.HeaderField, 0, len(f.Fields)), f.Fields...)
	s.endInLocked()
	return nil
}

// onDataLocked handles a DATA frame. mu is held.
func (c *Conn) onDataLocked(f *http2.DataFrame) {
	n := int64(f.Length)
	c.recvWindow -= n
	if c.recvWindow < 0 {
		c.goAwayLocked(http2.ErrCodeFlowControl)
		return
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if c.idleStreamLocked(f.StreamID) {
			c.goAwayLocked(http2.ErrCodeProtocol)
			return
		}
		// A stream already closed: the data are dropped, the
		// connection's window credited.
		c.creditLocked(nil, int(n))
		c.onClosedStreamLocked(f.StreamID, false)
		return
	}
	if s.inEnded || !s.gotHeader {
		c.creditLocked(nil, int(n))
		s.closeLocked(&ResetError{Code: http2.ErrCodeStreamClosed})
		c.resetLocked(s.id, http2.ErrCodeStreamClosed)
		return
	}
	s.recvWindow -= n
	if s.recvWindow < 0 {
		c.creditLocked(nil, int(n))
		s.closeLocked(&ResetError{Code: http2.ErrCodeFlowControl})
		c.resetLocked(s.id, http2.ErrCodeFlowControl)
		return
	}
	data := f.Data()
	// Padding is credited at once; the data as they are read.
	if pad := int(n) - len(data); pad > 0 {
		c.unacked += int64(pad)
	}
	if len(data) > 0 {
		s.gotLen += int64(len(data))
		if s.wantLen >= 0 && s.gotLen > s.wantLen {
			c.creditLocked(nil, len(data))
			s.protocolErrorLocked()
			return
		}
		if s.inOff > 0 && s.inOff == len(s.in) {
			s.in, s.inOff = s.in[:0], 0
		}
		if s.inOff > 0 && len(s.in)+len(data) > cap(s.in) {
			k := copy(s.in, s.in[s.inOff:])
			s.in, s.inOff = s.in[:k], 0
		}
		s.in = append(s.in, data...)
	}
	if f.StreamEnded() {
		if s.wantLen >= 0 && s.gotLen != s.wantLen {
			s.protocolErrorLocked()
			return
		}
		s.endInLocked()
	}
	s.cond.Broadcast()
}

// onWindowUpdateLocked handles WINDOW_UPDATE. mu is held.
func (c *Conn) onWindowUpdateLocked(f *http2.WindowUpdateFrame) {
	if f.StreamID == 0 {
		c.sendWindow += int64(f.Increment)
		if c.sendWindow > maxWindow {
			c.goAwayLocked(http2.ErrCodeFlowControl)
			return
		}
		c.flow.Broadcast()
		return
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if c.idleStreamLocked(f.StreamID) {
			c.goAwayLocked(http2.ErrCodeProtocol)
		}
		return
	}
	s.sendWindow += int64(f.Increment)
	if s.sendWindow > maxWindow {
		s.closeLocked(&ResetError{Code: http2.ErrCodeFlowControl})
		c.resetLocked(s.id, http2.ErrCodeFlowControl)
		return
	}
	c.flow.Broadcast()
}

// onSettingsLocked applies the peer's settings and acknowledges them.
// mu is held.
func (c *Conn) onSettingsLocked(f *http2.SettingsFrame) {
	if f.IsAck() {
		return
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingMaxConcurrentStreams:
			if !c.server {
				c.peerMaxStreams = s.Val
			}
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerWindow)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.peerWindow = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		}
		return nil
	})
	if err != nil {
		code := http2.ErrCodeProtocol
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			code = http2.ErrCode(ce)
		}
		c.goAwayLocked(code)
		return
	}
	c.fr.WriteSettingsAck()
	c.kickLocked()
	c.flow.Broadcast()
}

// connection-specific header fields, malformed in HTTP/2 (RFC 9113
// §8.2.2).
func connectionSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// checkRequest validates a request's header block as RFC 9113 §8.3.1
// requires; it returns the stream error code of a malformed one.
func checkRequest(f *http2.MetaHeadersFrame) http2.ErrCode {
	var method, scheme, path, authority bool
	isConnect := false
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = true
			isConnect = hf.Value == "CONNECT"
		case ":scheme":
			scheme = true
		case ":path":
			if hf.Value == "" {
				return http2.ErrCodeProtocol
			}
			path = true
		case ":authority":
			authority = true
		default:
			// :status, :protocol (extended CONNECT is not offered).
			return http2.ErrCodeProtocol
		}
	}
	if !method || (isConnect && (scheme || path || !authority)) || (!isConnect && (!scheme || !path)) {
		return http2.ErrCodeProtocol
	}
	for _, hf := range f.RegularFields() {
		if connectionSpecific(hf.Name) || (hf.Name == "te" && hf.Value != "trailers") {
			return http2.ErrCodeProtocol
		}
		if hf.Name == "content-length" && !validContentLength(hf.Value) {
			return http2.ErrCodeProtocol
		}
	}
	return http2.ErrCodeNo
}

// checkResponse validates a response's header block; it returns its
// status.
func checkResponse(f *http2.MetaHeadersFrame) (int, bool) {
	status := 0
	for _, hf := range f.PseudoFields() {
		if hf.Name != ":status" || len(hf.Value) != 3 {
			return 0, false
		}
		for _, c := range []byte(hf.Value) {
			if c < '0' || c > '9' {
				return 0, false
			}
			status = status*10 + int(c-'0')
		}
	}
	if status < 100 {
		return 0, false
	}
	for _, hf := range f.RegularFields() {
		if connectionSpecific(hf.Name) {
			return 0, false
		}
		if hf.Name == "content-length" && !validContentLength(hf.Value) {
			return 0, false
		}
	}
	return status, true
}

func validContentLength(v string) bool {
	if v == "" || len(v) > 18 {
		return false
	}
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// contentLength returns a header block's content-length, -1 without one
// (several that differ make none: the data are then not checked).
func contentLength(fields []hpack.HeaderField) int64 {
	n := int64(-1)
	for _, f := range fields {
		if f.Name != "content-length" {
			continue
		}
		var v int64
		for _, c := range []byte(f.Value) {
			v = v*10 + int64(c-'0')
		}
		if n >= 0 && n != v {
			return -1
		}
		n = v
	}
	return n
}

package h2

import (
	"errors"
	"io"
	"sync"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Stream is one HTTP/2 stream: what the peer sends on it (a header block,
// data, perhaps trailers) is read with ReadHeader, Read and Trailer; what
// this side sends is written with WriteHeaders and WriteData. One
// goroutine may read while another writes.
type Stream struct {
	c  *Conn
	id uint32
	// cond wakes the stream's reader. Its lock is the connection's.
	cond sync.Cond

	header    []hpack.HeaderField
	gotHeader bool
	truncated bool
	trailer   []hpack.HeaderField
	in        []byte // data received, from inOff on not yet read
	inOff     int
	inEnded   bool // END_STREAM received
	outEnded  bool // END_STREAM sent
	closed    bool // no longer on the connection
	err       error
	onReset   func(error)

	sendWindow int64 // the peer's window for this stream's DATA
	recvWindow int64 // what the peer may still send
	unacked    int64 // consumed, not yet credited
	wantLen    int64 // content-length received, -1 without one
	gotLen     int64
}

// ID returns the stream's identifier.
func (s *Stream) ID() uint32 { return s.id }

// Header returns the header block received: a request's on a server
// stream, available when the handler sees the stream; a response's on a
// client stream once ReadHeader returned.
func (s *Stream) Header() []hpack.HeaderField {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.header
}

// Truncated reports whether the header block received exceeded
// Config.MaxHeaderListSize (its fields are then incomplete).
func (s *Stream) Truncated() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.truncated
}

// BodyLength returns the length of the body the peer sends: 0 when its
// header block ended the stream, the content-length it declared, or -1
// when unknown.
func (s *Stream) BodyLength() int64 {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.inEnded && s.gotLen == 0 && len(s.in) == 0 {
		return 0
	}
	return s.wantLen
}

// ReadHeader waits for the peer's (final, non-1xx) header block and
// returns it.
func (s *Stream) ReadHeader() ([]hpack.HeaderField, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for !s.gotHeader {
		if s.err != nil {
			return nil, s.err
		}
		s.cond.Wait()
	}
	return s.header, nil
}

// Read reads the stream's data; it returns io.EOF once the peer ended the
// stream and every byte was read, or the error that ended the stream.
func (s *Stream) Read(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for s.inOff == len(s.in) {
		if s.inEnded {
			return 0, io.EOF
		}
		if s.err != nil {
			return 0, s.err
		}
		s.cond.Wait()
	}
	n := copy(p, s.in[s.inOff:])
	s.inOff += n
	if s.inOff == len(s.in) {
		s.in, s.inOff = s.in[:0], 0
	}
	c.creditLocked(s, n)
	return n, nil
}

// Buffered returns how many bytes Read returns without waiting, and
// whether the peer has ended the stream after them.
func (s *Stream) Buffered() (n int, ended bool) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return len(s.in) - s.inOff, s.inEnded
}

// Trailer returns the trailers received, once Read returned io.EOF.
func (s *Stream) Trailer() []hpack.HeaderField {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.trailer
}

// Err returns what ended the stream abnormally (a reset, the connection
// closing), nil otherwise.
func (s *Stream) Err() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.err
}

// OnReset sets a function called (on a goroutine of its own) when the
// stream ends abnormally: reset by either side, or its connection closed.
// It is called at once when that has already happened.
func (s *Stream) OnReset(f func(error)) {
	s.c.mu.Lock()
	err := s.err
	if err == nil {
		s.onReset = f
	}
	s.c.mu.Unlock()
	if err != nil {
		go f(err)
	}
}

// WriteHeaders sends a header block: a response's (server), or trailers
// (with end set, after data); end ends this side of the stream.
func (s *Stream) WriteHeaders(fields []hpack.HeaderField, end bool) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	c.writeHeadersLocked(s.id, fields, end)
	if end {
		s.endOutLocked()
	}
	return nil
}

// WriteResponse sends a header block and a body in one go (a response the
// proxy generates, or a small one it relays): the body goes out as DATA as
// far as flow control allows, the rest waits for window. The stream ends.
func (s *Stream) WriteResponse(fields []hpack.HeaderField, body []byte) error {
	c := s.c
	c.mu.Lock()
	if err := s.writableLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	c.writeHeadersLocked(s.id, fields, len(body) == 0)
	if len(body) == 0 {
		s.endOutLocked()
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return s.WriteData(body, true)
}

// WriteData sends data, waiting for flow-control window as needed; end
// ends this side of the stream after them.
func (s *Stream) WriteData(p []byte, end bool) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if err := s.writableLocked(); err != nil {
			return err
		}
		if len(p) == 0 {
			if end {
				c.writeDataLocked(s.id, nil, true)
				s.endOutLocked()
			}
			return nil
		}
		n := min(int64(len(p)), s.sendWindow, c.sendWindow, int64(c.peerMaxFrame))
		if n <= 0 || len(c.out.b) >= maxQueued {
			c.flow.Wait()
			continue
		}
		last := end && int(n) == len(p)
		c.writeDataLocked(s.id, p[:n], last)
		s.sendWindow -= n
		c.sendWindow -= n
		p = p[n:]
		if last {
			s.endOutLocked()
			return nil
		}
	}
}

// Cancel resets the stream (RST_STREAM CANCEL) unless it has ended;
// readers and writers waiting on it get err.
func (s *Stream) Cancel(err error) {
	s.Reset(http2.ErrCodeCancel, err)
}

// Reset resets the stream with a code unless it has ended; readers and
// writers waiting on it get err (a *ResetError when nil).
func (s *Stream) Reset(code http2.ErrCode, err error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return
	}
	if err == nil {
		err = &ResetError{Code: code}
	}
	s.closeLocked(err)
	c.resetLocked(s.id, code)
}

// writableLocked returns why the stream cannot be written to. mu is held.
func (s *Stream) writableLocked() error {
	switch {
	case s.err != nil:
		return s.err
	case s.outEnded:
		return ErrStreamEnded
	case s.c.closed:
		return ErrClosed
	}
	return nil
}

// endInLocked records the peer's END_STREAM. mu is held.
func (s *Stream) endInLocked() {
	s.inEnded = true
	if s.outEnded {
		s.closeLocked(nil)
	}
	s.cond.Broadcast()
}

// endOutLocked records this side's END_STREAM. A server that answered
// before the request ended tells the client to stop sending (RST_STREAM
// NO_ERROR). mu is held.
func (s *Stream) endOutLocked() {
	s.outEnded = true
	switch {
	case s.inEnded:
		s.closeLocked(nil)
	case s.c.server:
		s.c.resetLocked(s.id, http2.ErrCodeNo)
		s.closeLocked(nil)
	}
}

// protocolErrorLocked resets a malformed stream. mu is held.
func (s *Stream) protocolErrorLocked() {
	s.closeLocked(&ResetError{Code: http2.ErrCodeProtocol})
	s.c.resetLocked(s.id, http2.ErrCodeProtocol)
}

// closeLocked removes the stream from its connection; err (nil for a
// stream that ended normally) is what its reader and writer get from now
// on. Data received and not read are dropped and credited to the
// connection, unless the peer ended the stream normally (they stay to be
// read). mu is held.
func (s *Stream) closeLocked(err error) {
	if s.closed {
		return
	}
	c := s.c
	s.closed = true
	delete(c.streams, s.id)
	c.active--
	how := closedHere
	var re *ResetError
	switch {
	case err == nil && s.inEnded:
		how = closedEnded
	case errors.As(err, &re) && re.Remote:
		how = closedByPeer
	}
	c.noteClosedLocked(s.id, how)
	if err != nil {
		s.err = err
		if s.onReset != nil {
			go s.onReset(err)
			s.onReset = nil
		}
	}
	if unread := len(s.in) - s.inOff; unread > 0 && (err != nil || !s.inEnded) {
		s.in, s.inOff = nil, 0
		c.creditLocked(nil, unread)
	}
	s.cond.Broadcast()
	c.flow.Broadcast()
	if c.closeIdle && c.active == 0 {
		c.kickLocked()
	}
}

package alb

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
)

// The one HTTP/1.1 body relay. A body is relayed by a small state machine
// (body) that takes whatever bytes of the body have arrived and writes
// what is to be sent on: both HTTP/1.1 paths use it, the blocking path
// (relay, over a bufio.Reader and bufio.Writer) and the event loop (over
// its connection buffers).

// writeError is a failure to write to the other side of a relay (as
// opposed to reading from its source).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// errBadChunk is a malformed chunked body.
var errBadChunk = errors.New("malformed chunked body")

// Body framings.
const (
	bodyNone    uint8 = iota // no body
	bodyLength               // Content-Length bytes
	bodyChunked              // chunked transfer coding
	bodyEOF                  // until the source closes
)

// Chunked body parser states.
const (
	chunkSize uint8 = iota
	chunkData
	chunkCRLF
	chunkTrailer
	chunkDone
)

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4096

// body is one message body on its way through the load balancer: its
// framing and how far the relay has come.
type body struct {
	framing uint8
	// left is what remains of a bodyLength body, or of the current chunk
	// of a chunked one.
	left  int64
	chunk uint8 // where a chunked body's parser stands
	// chunkOut writes a bodyEOF body in chunked encoding (to an
	// HTTP/1.1 client).
	chunkOut bool
	// dechunk writes only the data of a chunked body, without its
	// framing and trailers (to an HTTP/2 client).
	dechunk bool
}

// relay writes to w what of in is to be sent on: a chunked body is
// re-framed (chunk extensions dropped, trailers passed through). It
// returns how many bytes of in it consumed and whether the body is
// complete; eof tells that the source ended after in. A chunk-size or
// trailer line cut short at the end of in is left for a later call with
// more input. A body that ends early gives io.ErrUnexpectedEOF, bad chunk
// framing errBadChunk, a failed write a *writeError.
func (b *body) relay(w byteWriter, in []byte, eof bool) (used int, done bool, err error) {
	switch b.framing {
	case bodyNone:
		return 0, true, nil
	case bodyLength:
		n := min(b.left, int64(len(in)))
		if n > 0 {
			if _, err := w.Write(in[:n]); err != nil {
				return 0, false, &writeError{err}
			}
		}
		b.left -= n
		switch {
		case b.left == 0:
			return int(n), true, nil
		case eof:
			return int(n), false, io.ErrUnexpectedEOF
		}
		return int(n), false, nil
	case bodyEOF:
		if len(in) > 0 {
			if b.chunkOut {
				writeChunkHeader(w, int64(len(in)))
			}
			if _, err := w.Write(in); err != nil {
				return 0, false, &writeError{err}
			}
			if b.chunkOut {
				w.WriteString("\r\n")
			}
		}
		if eof {
			if b.chunkOut {
				if _, err := w.WriteString("0\r\n\r\n"); err != nil {
					return len(in), false, &writeError{err}
				}
			}
			return len(in), true, nil
		}
		return len(in), false, nil
	}
	return b.relayChunks(w, in, eof)
}

// relayChunks is relay for a chunked body.
func (b *body) relayChunks(w byteWriter, in []byte, eof bool) (used int, done bool, err error) {
	for {
		buf := in[used:]
		if b.chunk == chunkData {
			if len(buf) == 0 {
				if eof {
					return used, false, io.ErrUnexpectedEOF
				}
				return used, false, nil
			}
			n := min(b.left, int64(len(buf)))
			if _, err := w.Write(buf[:n]); err != nil {
				return used, false, &writeError{err}
			}
			used += int(n)
			if b.left -= n; b.left == 0 {
				b.chunk = chunkCRLF
			}
			continue
		}
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			switch {
			case len(buf) >= maxChunkLine:
				return used, false, errBadChunk
			case eof:
				return used, false, io.ErrUnexpectedEOF
			}
			return used, false, nil
		}
		line := buf[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		used += i + 1
		var werr error
		switch b.chunk {
		case chunkSize:
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				line = line[:j]
			}
			n, ok := parseHex(routing.TrimSpace(line))
			if !ok {
				return used, false, errBadChunk
			}
			if !b.dechunk {
				werr = writeChunkHeader(w, n)
			}
			if n == 0 {
				b.chunk = chunkTrailer
			} else {
				b.chunk, b.left = chunkData, n
			}
		case chunkCRLF:
			if len(line) != 0 {
				return used, false, errBadChunk
			}
			if !b.dechunk {
				_, werr = w.WriteString("\r\n")
			}
			b.chunk = chunkSize
		case chunkTrailer:
			if len(line) > 0 && bytes.IndexByte(line, ':') <= 0 {
				return used, false, errBadChunk
			}
			if !b.dechunk {
				w.Write(line)
				_, werr = w.WriteString("\r\n")
			}
			if len(line) == 0 {
				b.chunk = chunkDone
			}
		}
		if werr != nil {
			return used, false, &writeError{werr}
		}
		if b.chunk == chunkDone {
			return used, true, nil
		}
	}
}

// writeChunkHeader writes a chunk's size line.
func writeChunkHeader(w byteWriter, n int64) error {
	var buf [20]byte
	_, err := w.Write(append(strconv.AppendInt(buf[:0], n, 16), '\r', '\n'))
	return err
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// relay runs bodies through the blocking path: from a bufio.Reader to a
// bufio.Writer, flushing the writer whenever the reader has nothing
// buffered, so that streamed bodies flow without delay while whole small
// bodies go out in one write.
type relay struct {
	dst *bufio.Writer
	src *bufio.Reader
	// dl moves the source's idle deadline before a read that may block.
	dl deadliner
}

// deadliner moves an idle deadline.
type deadliner interface{ refresh() }

// copyN relays exactly n bytes.
func (r *relay) copyN(n int64) error { return r.run(&body{framing: bodyLength, left: n}) }

// copyEOF relays until the source ends; with chunk set the bytes are
// written as a chunked body.
func (r *relay) copyEOF(chunk bool) error {
	return r.run(&body{framing: bodyEOF, chunkOut: chunk})
}

// copyChunked relays a chunked body.
func (r *relay) copyChunked() error { return r.run(&body{framing: bodyChunked}) }

// run relays a body: what the reader holds, then what arrives, until the
// body is complete.
func (r *relay) run(b *body) error {
	eof := false
	for {
		in, _ := r.src.Peek(r.src.Buffered())
		used, done, err := b.relay(r.dst, in, eof)
		r.src.Discard(used)
		if err != nil || done {
			return err
		}
		if r.src.Buffered() == 0 {
			// Nothing left to relay: send what is buffered before
			// waiting for more.
			if r.dst.Buffered() > 0 {
				if err := r.dst.Flush(); err != nil {
					return &writeError{err}
				}
			}
			if r.dl != nil {
				r.dl.refresh()
			}
			_, err = r.src.Peek(1)
		} else {
			// A line cut short: wait for the rest of it.
			if r.dl != nil {
				r.dl.refresh()
			}
			_, err = r.src.Peek(r.src.Buffered() + 1)
			if err == bufio.ErrBufferFull {
				return errBadChunk
			}
		}
		switch {
		case err == io.EOF:
			eof = true
		case err != nil:
			return err
		}
	}
}

package alb

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// writeError is a failure to write to the other side of a relay (as
// opposed to reading from its source).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// errBadChunk is a malformed chunked body.
var errBadChunk = errors.New("malformed chunked body")

// relay copies bodies between a source reader and a destination writer,
// flushing the destination whenever the source has nothing buffered, so
// that streamed bodies flow without delay while whole small bodies go out
// in one write.
type relay struct {
	dst *bufio.Writer
	src *bufio.Reader
	// dl moves the source's idle deadline before a read that may block.
	dl deadliner
	n  int64 // payload bytes relayed
}

// deadliner moves an idle deadline.
type deadliner interface{ refresh() }

// fill makes sure src has data, flushing dst first if it must wait.
func (r *relay) fill() error {
	if r.src.Buffered() > 0 {
		return nil
	}
	if r.dst.Buffered() > 0 {
		if err := r.dst.Flush(); err != nil {
			return &writeError{err}
		}
	}
	if r.dl != nil {
		r.dl.refresh()
	}
	_, err := r.src.Peek(1)
	return err
}

// copyN relays exactly n bytes.
func (r *relay) copyN(n int64) error {
	for n > 0 {
		if err := r.fill(); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		k := r.src.Buffered()
		if int64(k) > n {
			k = int(n)
		}
		b, _ := r.src.Peek(k)
		if _, err := r.dst.Write(b); err != nil {
			return &writeError{err}
		}
		r.src.Discard(k)
		n -= int64(k)
		r.n += int64(k)
	}
	return nil
}

// copyEOF relays until the source ends; with chunk set the bytes are
// written as a chunked body.
func (r *relay) copyEOF(chunk bool) error {
	for {
		err := r.fill()
		if err == io.EOF {
			if chunk {
				if _, err := r.dst.WriteString("0\r\n\r\n"); err != nil {
					return &writeError{err}
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
		k := r.src.Buffered()
		b, _ := r.src.Peek(k)
		if chunk {
			r.writeChunkHeader(int64(k))
		}
		if _, err := r.dst.Write(b); err != nil {
			return &writeError{err}
		}
		if chunk {
			r.dst.WriteString("\r\n")
		}
		r.src.Discard(k)
		r.n += int64(k)
	}
}

func (r *relay) writeChunkHeader(n int64) {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], n, 16)
	b = append(b, '\r', '\n')
	r.dst.Write(b)
}

// copyChunked relays a chunked body, re-framing each chunk (chunk
// extensions are dropped) and passing trailers through.
func (r *relay) copyChunked() error {
	for {
		line, err := r.line()
		if err != nil {
			return err
		}
		if i := indexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = trimSpace(line)
		size, ok := parseHex(line)
		if !ok {
			return errBadChunk
		}
		r.writeChunkHeader(size)
		if size == 0 {
			// Trailer fields, then the final empty line.
			for {
				t, err := r.line()
				if err != nil {
					return err
				}
				if len(t) > 0 && indexByte(t, ':') <= 0 {
					return errBadChunk
				}
				r.dst.Write(t)
				if _, err := r.dst.WriteString("\r\n"); err != nil {
					return &writeError{err}
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := r.copyN(size); err != nil {
			return err
		}
		crlf, err := r.line()
		if err != nil {
			return err
		}
		if len(crlf) != 0 {
			return errBadChunk
		}
		if _, err := r.dst.WriteString("\r\n"); err != nil {
			return &writeError{err}
		}
	}
}

// line reads one CRLF-terminated line of chunk framing (without the
// terminator); the returned slice is valid until the next read.
func (r *relay) line() ([]byte, error) {
	if err := r.fill(); err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if r.dl != nil {
		r.dl.refresh()
	}
	b, err := r.src.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, errBadChunk
		}
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b, nil
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

// Package h2 is HTTP/2 connections for a proxy: the frames, streams, flow
// control and header compression of RFC 9113 and RFC 7541, on either side
// of a connection (serving clients, or as a client of targets), built on
// golang.org/x/net/http2's Framer and hpack.
//
// It is what net/http's HTTP/2 server and transport do, without what a
// proxy does not need (a goroutine per frame write, request and response
// objects, header maps): a connection is served by one read loop, which
// decodes every frame where it arrives, and one write loop, which sends
// the frames every stream has queued in one write to the socket. A
// stream's headers and body are read and written by whoever holds it:
//
//	c := h2.NewServerConn(nc, h2.Config{})
//	c.Serve(func(s *h2.Stream) {
//		// s.Header() is the request's header block; the handler runs
//		// on the read loop and must not block: start a goroutine to
//		// answer it.
//		go func() {
//			s.WriteHeaders([]hpack.HeaderField{{Name: ":status", Value: "200"}}, false)
//			s.WriteData([]byte("hello"), true)
//		}()
//	})
//
//	cc := h2.NewClientConn(nc, h2.Config{})
//	s, _ := cc.OpenStream(requestFields, true)
//	resp, _ := s.ReadHeader()
//	io.Copy(dst, s) // the response body; then s.Trailer()
//
// Flow control is enforced both ways: a writer of DATA waits for the
// peer's windows, and a stream's received data are credited back to the
// peer as its reader consumes them, so a slow reader bounds the memory
// its stream holds. The package knows nothing of what the headers mean
// beyond what RFC 9113 requires of them (pseudo-header fields,
// connection-specific fields, content-length against the data received).
package h2

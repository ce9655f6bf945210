package echobasic

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// Answer is the JSON of echo-basic's HTTP answer.
type Answer struct {
	Path     string              `json:"path"`
	Host     string              `json:"host"`
	Method   string              `json:"method"`
	Proto    string              `json:"proto"`
	Headers  map[string][]string `json:"headers"`
	HTTPPort string              `json:"httpPort"`

	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`

	TLS *TLSAnswer `json:"tls,omitempty"`
}

// TLSAnswer is the TLS an HTTP or gRPC answer describes.
type TLSAnswer struct {
	Version            string   `json:"version"`
	PeerCertificates   []string `json:"peerCertificates,omitempty"`
	ServerName         string   `json:"serverName"`
	NegotiatedProtocol string   `json:"negotiatedProtocol,omitempty"`
	CipherSuite        string   `json:"cipherSuite"`
}

// httpEcho is the HTTP mode's state.
type httpEcho struct {
	ctx podContext
	// port is HTTP_PORT as set (every answer reports it, whichever port
	// the request reached).
	port string
	log  *slog.Logger

	mu       sync.Mutex
	attempts map[string]int // /retry/ attempts by uuid
}

func startHTTP(p *container.Process, c container.Container) error {
	httpPort, err := container.Port(c, "HTTP_PORT", DefaultHTTPPort)
	if err != nil {
		return err
	}
	h2cPort, err := container.Port(c, "H2C_PORT", DefaultH2CPort)
	if err != nil {
		return err
	}
	httpsPort, err := container.Port(c, "HTTPS_PORT", DefaultHTTPSPort)
	if err != nil {
		return err
	}
	e := &httpEcho{ctx: contextOf(c), port: strconv.Itoa(httpPort), log: c.Logger(), attempts: map[string]int{}}
	if v := c.Getenv("HTTP_PORT"); v != "" {
		e.port = v
	}
	handler := e.handler()
	errLog := slog.NewLogLogger(c.Logger().Handler(), slog.LevelDebug)

	// TLS first: a certificate that cannot be read fails the start before
	// anything listens.
	var tlsConfig *tls.Config
	cert, ok, err := keyPair(c, "TLS_SERVER_CERT", "TLS_SERVER_PRIVKEY")
	if err != nil {
		return err
	}
	if ok {
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}} //nolint:gosec // echo-basic's defaults
		if c.Getenv("TLS_CLIENT_CACERTS") != "" {
			pool, err := certPool(c, "TLS_CLIENT_CACERTS")
			if err != nil {
				return err
			}
			// Client certificates are checked when given; a client
			// without one is served too.
			tlsConfig.ClientAuth = tls.VerifyClientCertIfGiven
			tlsConfig.ClientCAs = pool
		}
	}

	serve := func(port int, srv *http.Server, tlsOn bool) error {
		ln, err := c.Listen(p.Context(), port)
		if err != nil {
			return err
		}
		srv.ErrorLog = errLog
		p.OnStop(func() { srv.Close() })
		p.Go(func() {
			var err error
			if tlsOn {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.Logger().Warn("echo-basic server stopped", "port", port, "error", err)
			}
		})
		return nil
	}
	if err := serve(httpPort, &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}, false); err != nil {
		return err
	}
	h2c := new(http.Protocols)
	h2c.SetHTTP1(true)
	h2c.SetUnencryptedHTTP2(true)
	if err := serve(h2cPort, &http.Server{Handler: e.h2cHandler(), Protocols: h2c, ReadHeaderTimeout: time.Second}, false); err != nil {
		return err
	}
	if tlsConfig != nil {
		if err := serve(httpsPort, &http.Server{Handler: handler, TLSConfig: tlsConfig, ReadHeaderTimeout: 30 * time.Second}, true); err != nil {
			return err
		}
	}
	return nil
}

var statusURI = regexp.MustCompile(`^/status/(\d\d\d)$`)

// handler is the HTTP and HTTPS ports' handler: a ServeMux with /health,
// /status/NNN, /retry/, /ws (WebSocket echo) and the echo on every other
// path, after "//" in the path is made "/".
func (e *httpEcho) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusBadRequest
		if m := statusURI.FindStringSubmatch(r.RequestURI); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/retry/", e.retry)
	mux.HandleFunc("/", e.echo)
	// websocket.Handler (not Server) refuses a handshake without a valid
	// Origin, as the image does.
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := ws.Read(buf)
			if n > 0 {
				if _, werr := ws.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strings.ReplaceAll(r.URL.Path, "//", "/")
		mux.ServeHTTP(w, r)
	})
}

// h2cHandler is the h2c port's: HTTP/2 requests (or HTTP/1.1 ones asking
// to upgrade to h2c) are echoed, others get 400.
func (e *httpEcho) h2cHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 && r.Header.Get("Upgrade") != "h2c" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "Expected h2c request")
			return
		}
		e.echo(w, r)
	})
}

// echo answers the request as JSON, after ?delay= if asked, with the
// response headers X-Echo-Set-Header asks for.
func (e *httpEcho) echo(w http.ResponseWriter, r *http.Request) {
	if err := delay(r, "delay"); err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	a := Answer{
		Path: r.RequestURI, Host: r.Host, Method: r.Method, Proto: r.Proto, Headers: r.Header,
		HTTPPort:  e.port,
		Namespace: e.ctx.Namespace, Ingress: e.ctx.Ingress, Service: e.ctx.Service, Pod: e.ctx.Pod,
		TLS: TLSAnswerOf(r.TLS),
	}
	body, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	setEchoHeaders(w.Header(), r.Header["X-Echo-Set-Header"])
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// setEchoHeaders adds the response headers that X-Echo-Set-Header values
// list: "Name: value" pairs separated by commas, names kept as written; a
// name given twice gets its values joined with a comma.
func setEchoHeaders(h http.Header, values []string) {
	for _, list := range values {
		for kv := range strings.SplitSeq(list, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(kv), ":")
			if len(h[name]) == 0 {
				h[name] = []string{value}
			} else {
				h[name][0] += "," + strings.TrimSpace(value)
			}
		}
	}
}

// retry plays a flaky backend: /retry/?uuid=U&succeedAfter=N fails the
// first N requests of U (the connection reset, or ?responseCode=C), each
// after ?delayRetry=D, then echoes.
func (e *httpEcho) retry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("uuid")
	if id == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "uuid is required")
		return
	}
	succeedAfter, err := strconv.Atoi(q.Get("succeedAfter"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "succeedAfter is required")
		return
	}
	e.mu.Lock()
	fail := e.attempts[id] < succeedAfter
	if fail {
		e.attempts[id]++
	}
	e.mu.Unlock()
	if !fail {
		e.echo(w, r)
		return
	}
	if err := delay(r, "delayRetry"); err != nil {
		writeError(w, err, http.StatusInternalServerError)
		return
	}
	if code, err := strconv.Atoi(q.Get("responseCode")); err == nil {
		w.WriteHeader(code)
		return
	}
	if err := reset(w); err != nil {
		writeError(w, err, http.StatusInternalServerError)
	}
}

// reset aborts the request's connection with a TCP RST.
func reset(w http.ResponseWriter) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return errors.New("response writer does not support hijacking")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		if err := tc.SetLinger(0); err != nil {
			return err
		}
	}
	return conn.Close()
}

// delay waits for the Go duration in the request's form value key, if
// any (or until the request is cancelled).
func delay(r *http.Request, key string) error {
	v := r.FormValue(key)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	return nil
}

// writeError answers {"message": err} with code.
func writeError(w http.ResponseWriter, err error, code int) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// TLSAnswerOf describes a TLS connection as the answers do; nil for none.
func TLSAnswerOf(st *tls.ConnectionState) *TLSAnswer {
	if st == nil {
		return nil
	}
	return &TLSAnswer{
		Version:            tlsVersionName(st.Version),
		PeerCertificates:   peerPEMs(st),
		ServerName:         st.ServerName,
		NegotiatedProtocol: st.NegotiatedProtocol,
		CipherSuite:        tls.CipherSuiteName(st.CipherSuite),
	}
}

// peerPEMs returns the client's certificates in PEM.
func peerPEMs(st *tls.ConnectionState) []string {
	var out []string
	for _, c := range st.PeerCertificates {
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return out
}

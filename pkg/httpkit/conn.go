package httpkit

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxHeaderBytes bounds a request's header section (net/http allows 4 KiB
// more). A bearer token and the gateway's forwarding headers take a few
// KiB; 64 KiB leaves room for large cookies and stops a client tying up
// megabytes per connection.
const MaxHeaderBytes = 64 << 10

// problemListener hands the server connections whose own error replies
// are RFC 9457 problems.
type problemListener struct {
	net.Listener
}

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if _, isTLS := c.(*tls.Conn); isTLS {
		// The server must see a *tls.Conn to negotiate HTTP/2.
		return c, nil
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites the replies net/http writes on the connection
// itself, before any handler runs, when it cannot read a request (a NUL in
// a header value, headers over MaxHeaderBytes, an unknown
// Transfer-Encoding, an Expect it does not meet): plain text, there, would
// be the only answer of the platform that is not a problem.
type problemConn struct {
	net.Conn
}

func (c *problemConn) Write(b []byte) (int, error) {
	if reply, ok := rewriteServerError(b); ok {
		if _, err := c.Conn.Write(reply); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite lets the server half-close before it hangs up on a client
// still sending an oversized header, so the client reads the 431 rather
// than a reset.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the kernel's copy (sendfile, splice) for response bodies,
// which never hold a server error reply.
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// serverErrorHeaders follow the status line of every reply net/http's
// connection loop writes for a request it cannot read; a response from a
// handler always carries a Date before its Content-Type.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// expectationFailed starts the reply net/http sends, with no body, to an
// Expect header other than 100-continue; no handler answers 417.
const expectationFailed = "HTTP/1.1 417 Expectation Failed\r\n"

// rewriteServerError turns one of net/http's own error replies into a
// problem; ok is false for every other write.
func rewriteServerError(b []byte) (reply []byte, ok bool) {
	const proto = "HTTP/1.1 "
	if len(b) < len(proto)+4 || !bytes.HasPrefix(b, []byte(proto)) || b[len(proto)] < '4' || b[len(proto)] > '5' {
		return nil, false
	}
	var status int
	var text string
	switch {
	case bytes.HasPrefix(b, []byte(expectationFailed)) && bytes.HasSuffix(b, []byte("\r\n\r\n")):
		status = http.StatusExpectationFailed
	default:
		end := bytes.Index(b, []byte("\r\n"))
		if end < 0 || !bytes.HasPrefix(b[end:], []byte(serverErrorHeaders)) {
			return nil, false
		}
		line := string(b[len(proto):end])
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 400 || code > 599 || (len(line) > 3 && line[3] != ' ') {
			return nil, false
		}
		status, text = code, string(b[end+len(serverErrorHeaders):])
	}
	p := serverProblem(status, text)
	body, err := marshalNoHTMLEscape(p)
	if err != nil {
		return nil, false
	}
	body = append(body, '\n')
	var out bytes.Buffer
	out.WriteString(proto + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	out.WriteString("Content-Type: " + ContentTypeProblem + "\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	out.WriteString("Connection: close\r\n")
	out.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	out.WriteString("X-Content-Type-Options: nosniff\r\n\r\n")
	out.Write(body)
	return out.Bytes(), true
}

// serverProblem says what net/http's reply said, as a problem.
func serverProblem(status int, text string) Problem {
	p := Problem{Status: status}
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		p.Type = ProblemType("headers-too-large")
		p.Detail = "the request's header fields are larger than " + strconv.Itoa(MaxHeaderBytes>>10) + " KiB"
	case http.StatusExpectationFailed:
		p.Type = ProblemType("expectation-failed")
		p.Detail = "the only Expect this API meets is 100-continue"
	case http.StatusNotImplemented:
		p.Type = ProblemType("unsupported-transfer-encoding")
		p.Detail = "the request's Transfer-Encoding is not supported; send chunked or none"
	case http.StatusHTTPVersionNotSupported:
		p.Type = ProblemType("http-version-not-supported")
		p.Detail = "the request's HTTP version is not supported; use HTTP/1.1"
	default:
		p.Type = ProblemType("malformed-request")
		p.Detail = "the request is not valid HTTP/1.1 (a broken request line, or a header field with a control character such as NUL)"
		// net/http names some causes after the status ("missing required Host header").
		prefix := strconv.Itoa(status) + " " + http.StatusText(status) + ": "
		if cause, ok := strings.CutPrefix(text, prefix); ok && cause != "" {
			p.Detail = "the request is not valid HTTP/1.1: " + cause
		}
	}
	p.Title = http.StatusText(status)
	return p
}

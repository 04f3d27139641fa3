package routing

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// NewProxy forwards requests to the upstream at base, keeping method, path,
// query, body and the Authorization header (the service verifies the token
// again), and setting X-Request-Id and X-Forwarded-*. The reverse proxy drops
// hop-by-hop headers both ways. transport carries the trace context.
// Browser credentials stay at the gateway: the session cookie and its CSRF
// token never reach a service, and a service cannot set a cookie on the
// gateway's origin.
func NewProxy(name string, base *url.URL, transport http.RoundTripper, log *slog.Logger) http.Handler {
	return &httputil.ReverseProxy{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.SetXForwarded()
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del("X-CSRF-Token")
			if id := httpkit.RequestIDFrom(pr.In.Context()); id != "" {
				pr.Out.Header.Set(httpkit.HeaderRequestID, id)
			}
		},
		Transport: transport,
		// Without a pool the proxy allocates (and zeroes) a 32 KiB buffer
		// to copy every response.
		BufferPool: copyBuffers,
		// The gateway already answers with the request id it forwarded; the
		// upstream's copy of the same header would make it appear twice.
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del(httpkit.HeaderRequestID)
			resp.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				// The client left or timed out; the upstream is not to blame.
				log.InfoContext(r.Context(), "request abandoned while proxied", "upstream", name, "err", err)
			} else {
				log.ErrorContext(r.Context(), "upstream unavailable", "upstream", name, "method", r.Method, "path", r.URL.Path, "err", err)
			}
			httpkit.WriteProblem(w, r, httpkit.Problem{Type: httpkit.ProblemType("upstream-unavailable"), Status: http.StatusBadGateway,
				Detail: "the " + name + " service is unavailable; try again shortly"})
		},
	}
}

// copyBuffers are the proxies' response copy buffers, reused.
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func notFound(w http.ResponseWriter, r *http.Request) {
	httpkit.EncodeError(r.Context(), apperr.New(apperr.KindNotFound, "not-found", "no API at "+r.URL.Path), w)
}

package httpkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Caller is what a request brings that a call to another service made on
// the user's behalf passes on: the peer applies its own tenancy and
// visibility to the same user.
type Caller struct {
	// Authorization is the request's Authorization header.
	Authorization string
	// IdempotencyKey is the request's Idempotency-Key, if any.
	IdempotencyKey string
}

type callerKey struct{}

// KeepCaller keeps, in each request's context, what calls to peers pass on
// (CallerFrom).
func KeepCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), Caller{
			Authorization: r.Header.Get("Authorization"), IdempotencyKey: r.Header.Get("Idempotency-Key")})))
	})
}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom is the caller in ctx (KeepCaller).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// Peer is another Rapport service, called over HTTP on behalf of the user
// whose request this service is serving.
type Peer struct {
	base *url.URL
	http *http.Client
	// Unavailable is the problem a call answers when the peer cannot be
	// reached or answers what the caller did not expect.
	Unavailable *apperr.Error
}

// NewPeer is the service name (such as "sales") at base.
func NewPeer(name string, base *url.URL) *Peer {
	return &Peer{base: base, http: &http.Client{Timeout: 5 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport)},
		Unavailable: apperr.New(apperr.KindUnavailable, name+"-unavailable",
			"the "+name+" service could not be asked; try again in a moment")}
}

// Do sends a request to the peer with the caller's Authorization (from
// ctx), a JSON body when body is not nil, and headers given as name, value
// pairs (an empty value is left out). It returns the answer's status and
// at most 1 MiB of its body; a peer it cannot reach is p.Unavailable.
func (p *Peer) Do(ctx context.Context, method, path string, body []byte, headers ...string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base.JoinPath(path).String(), rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", CallerFrom(ctx).Authorization)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, nil, p.Unexpected(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, raw, err
}

// Read GETs path from the peer on the caller's behalf and decodes a 200
// answer into into. found is false for a 404: a record that does not
// exist, or that the caller may not see; any other answer is
// p.Unavailable.
func (p *Peer) Read(ctx context.Context, path string, into any) (found bool, err error) {
	resp, raw, err := p.Do(ctx, http.MethodGet, path, nil)
	switch {
	case err != nil:
		return false, err
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, p.UnexpectedStatus(http.MethodGet, path, resp)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return false, p.Unexpected(fmt.Errorf("GET %s: %w", path, err))
	}
	return true, nil
}

// Unexpected is p.Unavailable caused by cause: the peer could not be asked,
// or answered what this service did not expect of it.
func (p *Peer) Unexpected(cause error) error {
	return &apperr.Error{Kind: p.Unavailable.Kind, Slug: p.Unavailable.Slug, Message: p.Unavailable.Message, Cause: cause}
}

// UnexpectedStatus is p.Unavailable for an answer of a status the caller
// did not expect to method path.
func (p *Peer) UnexpectedStatus(method, path string, resp *http.Response) error {
	return p.Unexpected(fmt.Errorf("%s %s: %s", method, path, resp.Status))
}

// PeerVar is the variable holding a service's base URL: its name in upper
// case, dashes as underscores, then _URL ("lead-scoring" → LEAD_SCORING_URL).
func PeerVar(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_URL"
}

// PeerURLFromEnv reads the base URL of the service name from its variable
// (PeerVar), which must be set to an http(s) URL with a host and no query.
func PeerURLFromEnv(name string) (*url.URL, error) {
	v := os.Getenv(PeerVar(name))
	if v == "" {
		return nil, fmt.Errorf("%s is required (the %s service's base URL, e.g. http://127.0.0.1:8081)", PeerVar(name), name)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s must be an http(s) base URL such as http://127.0.0.1:8081, got %q", PeerVar(name), v)
	}
	return u, nil
}

package testenv

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// contract is a registered OpenAPI document and its validator, built on
// first use.
type contract struct {
	raw  []byte
	once sync.Once
	err  error
	doc  *Document
	v3   *v3.Document
	mu   sync.Mutex // the validator's caches are not documented as safe for concurrent use
	val  validator.Validator
}

func (c *contract) build() error {
	c.once.Do(func() {
		if c.doc, c.err = ParseDocument(c.raw); c.err != nil {
			return
		}
		doc, err := openDocument(c.raw)
		if err != nil {
			c.err = err
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			c.err = err
			return
		}
		c.v3 = &model.Model
		// Formats (uuid, date-time, email...) are assertions here: a
		// service that answers "2024-13-01" as a date breaks its contract.
		c.val = validator.NewValidatorFromV3Model(c.v3, config.WithFormatAssertions())
	})
	return c.err
}

// openDocument reads a document for the validator; what is wrong with it
// comes back as errors, not as log lines.
func openDocument(raw []byte) (libopenapi.Document, error) {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return libopenapi.NewDocumentWithConfiguration(raw, cfg)
}

// registry holds the documents replies are checked against.
type registry struct {
	mu        sync.Mutex
	contracts []*contract
}

var contracts registry

// ValidateWith registers OpenAPI 3.1 documents (JSON) for this test binary:
// from then on every reply Call and Do receive for a /v1/ path is checked
// against the document that describes the path. The status must be
// documented for the operation, and so must the content type, the body's
// schema (formats included) and the required headers; HEAD must be
// documented as an operation of its own. A request no document describes
// may only be refused (a 4xx problem). A mismatch fails the test with what
// differs. Benchmarks are not checked: they time the service, and the check
// would be timed with it. Call it from TestMain; registering a document
// twice is harmless.
func ValidateWith(docs ...[]byte) {
	contracts.add(docs...)
}

func (r *registry) add(docs ...[]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range docs {
		known := false
		for _, c := range r.contracts {
			known = known || bytes.Equal(c.raw, d)
		}
		if !known {
			r.contracts = append(r.contracts, &contract{raw: d})
		}
	}
}

func (r *registry) list() []*contract {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*contract(nil), r.contracts...)
}

// Do sends req with the default client, as a test that needs more than
// Call would, and checks the reply against the registered documents (see
// ValidateWith). The body is read and handed back unread.
func Do(t testing.TB, req *http.Request) (*http.Response, error) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return resp, err
	}
	contracts.check(t, req.Method, req.URL, resp.StatusCode, resp.Header, raw)
	return resp, nil
}

// check fails t (without stopping it: it may run in a goroutine) when a
// reply breaks the contract of the document that describes its request.
func (r *registry) check(t testing.TB, method string, u *url.URL, status int, header http.Header, body []byte) {
	t.Helper()
	if _, bench := t.(*testing.B); bench {
		// A benchmark times the service: checking a page of twenty contacts
		// against the document takes longer than the service takes to find
		// them, and would be measured with it. The tests check the replies.
		return
	}
	list := r.list()
	if len(list) == 0 || !strings.HasPrefix(u.Path, "/v1/") {
		// Health, readiness and metrics are operational, not the API.
		return
	}
	var (
		found     *contract
		op        *Operation
		pathKnown bool
	)
	for _, c := range list {
		if err := c.build(); err != nil {
			t.Errorf("contract: the OpenAPI document cannot be read: %v", err)
			return
		}
		o, known := c.doc.Match(method, u.Path)
		pathKnown = pathKnown || known
		if o != nil && (op == nil || moreSpecific(o.Path, op.Path)) {
			found, op = c, o
		}
	}
	if op == nil {
		if status >= 400 && status < 500 && isProblem(header) {
			return
		}
		what := "no document describes the path"
		if pathKnown {
			what = "the document describes the path but not " + method
		}
		t.Errorf("contract: %s %s answered %d (%s), but %s: only a 4xx problem may answer it\nbody: %s",
			method, u.Path, status, header.Get("Content-Type"), what, excerpt(body))
		return
	}
	if problems := found.validate(op, method, u, status, header, body); len(problems) > 0 {
		t.Errorf("contract: %s %s answered %d (%s), which %q does not allow for %s:\n  %s\nbody: %s",
			method, u.RequestURI(), status, header.Get("Content-Type"), found.doc.Title, op.Route(),
			strings.Join(problems, "\n  "), excerpt(body))
	}
}

// validate checks a reply against op and says what is wrong, if anything.
func (c *contract) validate(op *Operation, method string, u *url.URL, status int, header http.Header, body []byte) []string {
	item := c.v3.Paths.PathItems.GetOrZero(op.Path)
	req := &http.Request{Method: method, URL: u, Header: http.Header{}}
	resp := &http.Response{StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	if method == http.MethodHead {
		// A HEAD answer has no body, whatever its headers say.
		resp.Body = http.NoBody
	}
	c.mu.Lock()
	_, errs := c.val.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(req, resp, item, op.Path)
	c.mu.Unlock()
	var out []string
	for _, e := range errs {
		out = append(out, describe(e))
	}
	// The library reads a described body only when there is one, and a
	// body only when one is described: check both ways.
	if doc := documentedResponse(op, status); doc != nil && method != http.MethodHead {
		content, _ := doc["content"].(map[string]any)
		switch {
		case len(content) > 0 && len(body) == 0 && status != http.StatusNoContent && status != http.StatusNotModified:
			out = append(out, "the document describes a body, but the answer has none")
		case len(content) == 0 && len(body) > 0:
			out = append(out, "the document describes no body, but the answer has one")
		}
	}
	return out
}

// documentedResponse is the Response Object the document gives for status.
func documentedResponse(op *Operation, status int) map[string]any {
	code := strconv.Itoa(status)
	for _, k := range []string{code, code[:1] + "XX", "default"} {
		if r, ok := op.Responses[k].(map[string]any); ok {
			return r
		}
	}
	return nil
}

func describe(e *liberrors.ValidationError) string {
	s := e.Message
	if e.Reason != "" && e.Reason != e.Message {
		s += ": " + e.Reason
	}
	for _, f := range e.SchemaValidationErrors {
		at := f.FieldPath
		if at == "" {
			at = "$"
		}
		s += "\n    at " + at + ": " + f.Reason
	}
	return s
}

func isProblem(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/problem+json"
}

func excerpt(b []byte) string {
	const max = 600
	if len(b) > max {
		return fmt.Sprintf("%s… (%d bytes)", b[:max], len(b))
	}
	return string(b)
}

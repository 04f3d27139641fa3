package httpkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

type widget struct {
	ID      uuid.UUID
	Version int64
}

func render(w widget) (any, int64) { return map[string]any{"id": w.ID}, w.Version }

func TestTypedResponsesRenderTheirValueOrTheirProblem(t *testing.T) {
	id := uuid.New()
	rec := httptest.NewRecorder()
	enc := httpkit.EncodeCreated("/v1/widgets", render, func(w widget) uuid.UUID { return w.ID })
	if err := enc(context.Background(), rec, httpkit.Response[widget]{Value: widget{ID: id, Version: 3}}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusCreated || rec.Header().Get("Location") != "/v1/widgets/"+id.String() || rec.Header().Get("ETag") != `"3"` ||
		!strings.Contains(rec.Body.String(), id.String()) {
		t.Fatalf("created: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	missing := apperr.NotFound("widget")
	_ = enc(context.Background(), rec, httpkit.Response[widget]{Err: missing})
	if rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" || rec.Header().Get("ETag") != "" {
		t.Fatalf("a refusal: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	_ = httpkit.EncodeDone(context.Background(), rec, httpkit.Done{})
	if rec.Code != http.StatusNoContent {
		t.Fatalf("done: %d", rec.Code)
	}
	if (httpkit.Done{Err: missing}).Failed() != missing {
		t.Fatal("Failed does not carry the error")
	}
}

func TestPathRefReadsTheIDAndIfMatch(t *testing.T) {
	missing := errors.New("no such widget")
	id := uuid.New()
	mux := http.NewServeMux()
	var got httpkit.Ref
	var gotErr error
	mux.HandleFunc("PATCH /v1/widgets/{id}", func(_ http.ResponseWriter, r *http.Request) { got, gotErr = httpkit.PathRef(r, missing) })
	req := httptest.NewRequest("PATCH", "/v1/widgets/"+id.String(), nil)
	req.Header.Set("If-Match", `"7"`)
	mux.ServeHTTP(httptest.NewRecorder(), req)
	if gotErr != nil || got.ID != id || got.IfMatch.Check(7) != nil || got.IfMatch.Check(8) == nil {
		t.Fatalf("ref %+v, %v", got, gotErr)
	}
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PATCH", "/v1/widgets/not-an-id", nil))
	if gotErr != missing {
		t.Fatalf("an id that is no UUID: %v", gotErr)
	}
}

func TestPathRefBodyReadsTheRecordAndTheChange(t *testing.T) {
	missing := errors.New("no such widget")
	id := uuid.New()
	type change struct {
		Name string `json:"name"`
	}
	mux := http.NewServeMux()
	var ref httpkit.Ref
	var body change
	var gotErr error
	mux.HandleFunc("PATCH /v1/widgets/{id}", func(_ http.ResponseWriter, r *http.Request) {
		ref, body, gotErr = httpkit.PathRefBody[change](r, missing)
	})
	send := func(path, payload string) {
		req := httptest.NewRequest("PATCH", path, strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("/v1/widgets/"+id.String(), `{"name":"gear"}`)
	if gotErr != nil || ref.ID != id || body.Name != "gear" {
		t.Fatalf("ref %+v body %+v: %v", ref, body, gotErr)
	}
	send("/v1/widgets/not-an-id", `{"name":"gear"}`)
	if gotErr != missing {
		t.Fatalf("an id that is no UUID: %v", gotErr)
	}
	send("/v1/widgets/"+id.String(), `{"name":`)
	if apperr.KindOf(gotErr) != apperr.KindBadRequest {
		t.Fatalf("a body that is no JSON: %v", gotErr)
	}
}

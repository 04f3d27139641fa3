package httpkit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

type cursor struct {
	After uuid.UUID `json:"a"`
	At    time.Time `json:"t"`
}

func TestCursorRoundTrip(t *testing.T) {
	want := cursor{After: uuid.New(), At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := httpkit.EncodeCursor(want)
	var have cursor
	if err := httpkit.DecodeCursor(s, &have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, have) {
		t.Fatalf("want %+v, have %+v", want, have)
	}
}

func TestDecodeCursorRefusesGarbage(t *testing.T) {
	for _, s := range []string{"!!!", "bm90IGpzb24", httpkit.EncodeCursor(map[string]int{"x": 1}), httpkit.EncodeCursor(1) + "AA"} {
		t.Run(s, func(t *testing.T) {
			var c cursor
			err := httpkit.DecodeCursor(s, &c)
			w := httptest.NewRecorder()
			httpkit.EncodeError(context.Background(), err, w)
			if w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status: want 422, have %d (%v)", w.Code, err)
			}
			if p := readProblem(t, w); len(p.Errors) != 1 || p.Errors[0].Field != "cursor" {
				t.Fatalf("field errors: %+v", p.Errors)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		query   string
		want    int
		wantErr bool
	}{
		{"", 50, false},
		{"limit=10", 10, false},
		{"limit=200", 200, false},
		{"limit=201", 0, true},
		{"limit=0", 0, true},
		{"limit=-1", 0, true},
		{"limit=ten", 0, true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			have, err := httpkit.ParseLimit(httptest.NewRequest(http.MethodGet, "/v1/contacts?"+tc.query, nil), 50, 200)
			if tc.wantErr {
				e, ok := apperr.As(err)
				if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "limit" {
					t.Fatalf("want Invalid on limit, have %v", err)
				}
				return
			}
			if err != nil || have != tc.want {
				t.Fatalf("want %d, have %d (%v)", tc.want, have, err)
			}
		})
	}
}

func TestETagAndIfMatch(t *testing.T) {
	if have := httpkit.ETag(42); have != `"42"` {
		t.Fatalf("ETag(42) = %s", have)
	}
	for _, tc := range []struct {
		header  []string
		given   bool
		holds   int64 // a version admitted, or 0
		refuses int64 // a version refused, or 0
		wantErr bool
	}{
		{header: nil, holds: 7},
		{header: []string{httpkit.ETag(7)}, given: true, holds: 7, refuses: 8},
		{header: []string{" \"7\" "}, given: true, holds: 7},
		{header: []string{"*"}, given: true, holds: 7},
		{header: []string{`W/"7"`}, given: true, refuses: 7},
		{header: []string{`"abc"`}, given: true, refuses: 7},
		{header: []string{`"0"`}, given: true, refuses: 1},
		{header: []string{`"7", "8"`}, given: true, holds: 8, refuses: 9},
		{header: []string{`"7"`, `"8"`}, given: true, holds: 7, refuses: 9},
		{header: []string{`7`}, wantErr: true},
		{header: []string{`"7`}, wantErr: true},
		{header: []string{`*, "7"`}, wantErr: true},
	} {
		t.Run(headerName(tc.header), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/v1/contacts/x", nil)
			for _, h := range tc.header {
				r.Header.Add("If-Match", h)
			}
			m, err := httpkit.IfMatch(r)
			if tc.wantErr {
				if apperr.KindOf(err) != apperr.KindBadRequest {
					t.Fatalf("want BadRequest, have %v", err)
				}
				return
			}
			if err != nil || m.Given() != tc.given {
				t.Fatalf("want given %v, have %v %v", tc.given, m.Given(), err)
			}
			if tc.holds != 0 && !m.Holds(tc.holds) {
				t.Errorf("want version %d admitted", tc.holds)
			}
			if tc.refuses != 0 && m.Holds(tc.refuses) {
				t.Errorf("want version %d refused", tc.refuses)
			}
		})
	}
}

func headerName(h []string) string {
	if h == nil {
		return "absent"
	}
	return fmt.Sprint(h)
}

func TestParseBool(t *testing.T) {
	for query, want := range map[string]any{"": false, "x=true": true, "x=1": true, "x=false": false, "x=yes": "x"} {
		have, err := httpkit.ParseBool(httptest.NewRequest(http.MethodGet, "/v1/contacts?"+query, nil), "x")
		if field, bad := want.(string); bad {
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Fields[0].Field != field {
				t.Errorf("%q: want Invalid on %s, have %v", query, field, err)
			}
			continue
		}
		if err != nil || have != want {
			t.Errorf("%q: have %v %v, want %v", query, have, err, want)
		}
	}
}

func TestOptionalID(t *testing.T) {
	var v apperr.Invalid
	id := uuid.New()
	if got := httpkit.OptionalID(&v, "a", ""); got != uuid.Nil {
		t.Errorf("empty: %v", got)
	}
	if got := httpkit.OptionalID(&v, "b", id.String()); got != id {
		t.Errorf("id: %v", got)
	}
	httpkit.OptionalID(&v, "c", "nope")
	e, _ := apperr.As(v.Err())
	if e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "c" {
		t.Errorf("errors %v", v.Err())
	}
}

func TestPatchIDTellsAbsentClearedAndGivenApart(t *testing.T) {
	var v apperr.Invalid
	id := uuid.New()
	if got := httpkit.PatchID(&v, "a", httpkit.Nullable[string]{}); got != nil {
		t.Errorf("absent: %v, want nil", got)
	}
	if got := httpkit.PatchID(&v, "b", httpkit.Nullable[string]{Set: true, Null: true}); got == nil || *got != uuid.Nil {
		t.Errorf("null: %v, want uuid.Nil", got)
	}
	if got := httpkit.PatchID(&v, "c", httpkit.Nullable[string]{Set: true, Value: id.String()}); got == nil || *got != id {
		t.Errorf("given: %v, want %v", got, id)
	}
	httpkit.PatchID(&v, "d", httpkit.Nullable[string]{Set: true, Value: "nope"})
	if e, _ := apperr.As(v.Err()); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "d" {
		t.Errorf("errors %v, want one on d", v.Err())
	}
}

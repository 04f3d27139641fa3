package httpkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

func TestKnownParams(t *testing.T) {
	for _, tc := range []struct {
		query   string
		unknown string // the fields refused, in order
	}{
		{"", ""},
		{"q=a&limit=2", ""},
		{"custom.segment=smb&q=", ""},
		{"sort_by=name", "sort_by"},
		{"zeta=1&alpha=2&q=x", "alpha,zeta"},
		{"custom.=x", "custom."},
		{"customer=1", "customer"},
		{"q=a&q=b", "q"},
		{"custom.segment=a&custom.segment=b&limit=1", "custom.segment"},
		{"limit=1&bogus=1&bogus=2", "bogus"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			err := httpkit.KnownParams(httptest.NewRequest("GET", "/v1/x?"+tc.query, nil), "q", "limit", "custom.")
			var have []string
			if e, ok := apperr.As(err); ok {
				if e.Kind != apperr.KindInvalid {
					t.Fatalf("kind %v", e.Kind)
				}
				for _, f := range e.Fields {
					have = append(have, f.Field)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(have, ",") != tc.unknown {
				t.Fatalf("refused %v, want %s", have, tc.unknown)
			}
		})
	}
}

func TestKnownParamsSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		query string
		names []string
		want  string
	}{
		{"q=a&q=b", []string{"q"}, "must be given once"},
		{"x=1", []string{"q", "limit"}, "not a parameter of this operation; it takes q, limit"},
		{"x=1", nil, "not a parameter of this operation; it takes none"},
	} {
		e, ok := apperr.As(httpkit.KnownParams(httptest.NewRequest("GET", "/v1/x?"+tc.query, nil), tc.names...))
		if !ok || len(e.Fields) != 1 || e.Fields[0].Message != tc.want {
			t.Errorf("%s: have %+v, want %q", tc.query, e, tc.want)
		}
	}
}

func TestWithParams(t *testing.T) {
	var saw string
	dec := func(bodyErr, notFound bool) httpkit.Decoder {
		return func(_ context.Context, r *http.Request) (any, error) {
			saw = r.URL.RawQuery
			var v apperr.Invalid
			if r.URL.Query().Get("cursor") == "bad" {
				v.Add("cursor", "not a cursor")
			}
			if bodyErr {
				v.Add("stage_id", "required")
			}
			if notFound {
				return nil, apperr.New(apperr.KindNotFound, "not-found", "no such thing")
			}
			return "decoded", v.Err()
		}
	}
	fields := func(err error) string {
		e, _ := apperr.As(err)
		var out []string
		for _, f := range e.Fields {
			out = append(out, f.Field+": "+f.Message)
		}
		return strings.Join(out, "; ")
	}
	req := func(q string) *http.Request { return httptest.NewRequest(http.MethodGet, "/v1/things?"+q, nil) }
	// Nothing refused: the decoder's answer, whole.
	if v, err := httpkit.WithParams(dec(false, false), []string{"limit"})(context.Background(), req("limit=5")); v != "decoded" || err != nil {
		t.Fatalf("%v %v", v, err)
	}
	// A parameter the route does not take never reaches the decoder: a
	// cursor sent to an export is refused once, for not belonging.
	_, err := httpkit.WithParams(dec(false, false), []string{"q"})(context.Background(), req("q=a&cursor=bad"))
	if have := fields(err); have != "cursor: not a parameter of this operation; it takes q" || saw != "q=a" {
		t.Fatalf("have %q, the decoder saw %q", have, saw)
	}
	// The decoder's own field errors come first, then the parameters'; a
	// body field and a parameter of the same name are two problems.
	_, err = httpkit.WithParams(dec(true, false), nil)(context.Background(), req("stage_id=1"))
	if have := fields(err); have != "stage_id: required; stage_id: not a parameter of this operation; it takes none" {
		t.Fatalf("have %q", have)
	}
	// A parameter given twice still reaches the decoder, which reads it.
	_, err = httpkit.WithParams(dec(false, false), []string{"cursor"})(context.Background(), req("cursor=bad&cursor=x"))
	if have := fields(err); have != "cursor: not a cursor; cursor: must be given once" {
		t.Fatalf("have %q", have)
	}
	// Another refusal of the decoder stands alone.
	_, err = httpkit.WithParams(dec(false, true), nil)(context.Background(), req("x=1"))
	if apperr.KindOf(err) != apperr.KindNotFound {
		t.Fatalf("have %v", err)
	}
}

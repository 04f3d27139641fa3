package httpkit_test

import (
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

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

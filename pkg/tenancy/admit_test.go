package tenancy_test

import (
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

func TestAdmit(t *testing.T) {
	active := tenancy.Tenant{State: tenancy.StateActive}
	for _, tc := range []struct {
		name     string
		tenant   tenancy.Tenant
		known    bool
		method   string
		wantSlug string // "" admits
	}{
		{"active", active, true, http.MethodPost, ""},
		{"unknown", tenancy.Tenant{}, false, http.MethodGet, "tenant-unknown"},
		{"suspended", tenancy.Tenant{State: tenancy.StateActive, Suspended: true}, true, http.MethodGet, "tenant-suspended"},
		{"suspended and retained", tenancy.Tenant{State: tenancy.StateRetained, Suspended: true}, true, http.MethodGet, "tenant-suspended"},
		{"deleted", tenancy.Tenant{State: tenancy.StateDeleted}, true, http.MethodGet, "tenant-deleted"},
		{"retained GET", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodGet, ""},
		{"retained HEAD", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodHead, ""},
		{"retained POST", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodPost, "tenant-read-only"},
		{"retained DELETE", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodDelete, "tenant-read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tenancy.Admit(tc.tenant, tc.known, tc.method)
			if tc.wantSlug == "" {
				if err != nil {
					t.Fatalf("want admitted, have %v", err)
				}
				return
			}
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindForbidden || e.Slug != tc.wantSlug {
				t.Fatalf("want forbidden %q, have %v", tc.wantSlug, err)
			}
		})
	}
}

package admission_test

import (
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/tenancy"
	"github.com/rapportcrm/rapport/services/gateway/internal/admission"
)

func TestAdmit(t *testing.T) {
	active := tenancy.Tenant{State: tenancy.StateActive}
	tests := []struct {
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
		{"retained POST", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodPost, "tenant-deleted"},
		{"retained DELETE", tenancy.Tenant{State: tenancy.StateRetained}, true, http.MethodDelete, "tenant-deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admission.Admit(tt.tenant, tt.known, tt.method)
			if tt.wantSlug == "" {
				if err != nil {
					t.Fatalf("want admitted, have %v", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindForbidden || e.Slug != tt.wantSlug {
				t.Fatalf("want forbidden %q, have %v", tt.wantSlug, err)
			}
		})
	}
}

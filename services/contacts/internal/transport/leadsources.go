package transport

import (
	"context"
	"net/http"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
)

// LeadSourceRoutes registers /v1/lead-sources on mux.
func LeadSourceRoutes(mux *http.ServeMux, e endpoint.LeadSourceEndpoints) {
	handle := httpkit.NewEndpoints(mux, QueryParams).Handle
	none := func(context.Context, *http.Request) (any, error) { return nil, nil }
	handle("GET /v1/lead-sources", e.List, none, encodeLeadSources)
	handle("PUT /v1/lead-sources", e.Set, decodeSetLeadSources, encodeLeadSources)
}

func decodeSetLeadSources(_ context.Context, r *http.Request) (any, error) {
	var body struct {
		Items []domain.LeadSource `json:"items"`
	}
	if err := httpkit.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	return endpoint.SetLeadSourcesRequest{Sources: body.Items}, nil
}

func encodeLeadSources(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.LeadSourcesResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	items := r.Sources
	if items == nil {
		items = []domain.LeadSource{}
	}
	return httpkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

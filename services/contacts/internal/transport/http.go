// Package transport serves the contacts endpoints over HTTP/JSON with go-kit.
// Errors are rendered by httpkit.EncodeError, the one place kinds map to
// status codes.
package transport

import (
	"context"
	"net/http"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Routes registers the contacts API on mux.
func Routes(mux *http.ServeMux, e endpoint.Endpoints) {
	handle := httpkit.NewEndpoints(mux, QueryParams, kithttp.ServerBefore(func(ctx context.Context, r *http.Request) context.Context {
		return context.WithValue(ctx, requestKey{}, r)
	})).Handle
	handle("POST /v1/contacts", e.Create, decodeCreate, encodeContact)
	handle("GET /v1/contacts", e.List, decodeContactQuery, encodeList)
	handle("GET /v1/contacts/export", e.ExportContacts, decodeContactQuery, encodeContactsCSV)
	handle("GET /v1/companies/export", e.ExportCompanies, decodeCompanyQuery, encodeCompaniesCSV)
	handle("GET /v1/contacts/{id}", e.Get, decodeGet(domain.ErrContactNotFound), encodeContact)
	handle("PATCH /v1/contacts/{id}", e.Update, decodeUpdate, encodeContact)
	handle("DELETE /v1/contacts/{id}", e.Delete, decodeDelete(domain.ErrContactNotFound), encodeDelete)

	handle("POST /v1/companies", e.CreateCompany, decodeCreateCompany, encodeCompany)
	handle("GET /v1/companies", e.ListCompanies, decodeCompanyQuery, encodeCompanies)
	handle("GET /v1/companies/{id}", e.GetCompany, decodeGet(domain.ErrCompanyNotFound), encodeCompany)
	handle("PATCH /v1/companies/{id}", e.UpdateCompany, decodeUpdateCompany, encodeCompany)
	handle("DELETE /v1/companies/{id}", e.DeleteCompany, decodeDelete(domain.ErrCompanyNotFound), encodeDelete)
	handle("GET /v1/companies/{id}/contacts", e.CompanyContacts, decodeCompanyContacts, encodeList)

	handle("POST /v1/fields", e.DefineField, decodeDefineField, encodeField)
	handle("GET /v1/fields", e.ListFields, decodeListFields, encodeFields)
	handle("GET /v1/fields/{id}", e.GetField, decodeGet(domain.ErrFieldNotFound), encodeField)
	handle("PATCH /v1/fields/{id}", e.ChangeField, decodeChangeField, encodeField)
	handle("DELETE /v1/fields/{id}", e.DeleteField, decodeDelete(domain.ErrFieldNotFound), encodeDelete)

	handle("POST /v1/activities", e.LogActivity, decodeLogActivity, encodeActivity)
	handle("GET /v1/activities", e.ListActivities, decodeListActivities, encodeActivities)
	handle("GET /v1/activities/{id}", e.GetActivity, decodeGet(domain.ErrActivityNotFound), encodeActivity)
	handle("DELETE /v1/activities/{id}", e.DeleteActivity, decodeDeleteFact(domain.ErrActivityNotFound), encodeDelete)
	handle("GET /v1/contacts/{id}/timeline", e.Timeline, decodeTimeline, encodeTimeline)
	handle("POST /v1/contacts/{id}/erase", e.Erase, decodeDelete(domain.ErrContactNotFound), encodeContact)
	handle("GET /v1/contacts/{id}/data-export", e.Export, decodeGet(domain.ErrContactNotFound), encodeExport)
	// More specific than /v1/contacts/{id}, so ServeMux sends it here.
	handle("GET /v1/contacts/duplicates", e.Duplicates, decodeDuplicates, encodeDuplicates)
	handle("POST /v1/contacts/{id}/merge", e.Merge, decodeMerge, encodeContact)
	handle("POST /v1/contacts/{id}/unmerge", e.Unmerge, decodeUnmerge, encodeUnmerge)
}

func decodeGet(notFound error) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		id, err := httpkit.PathID(r, "id", notFound)
		return endpoint.GetRequest{ID: id}, err
	}
}

func decodeDelete(notFound error) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		id, version, err := pathIDAndVersion(r, notFound)
		return endpoint.DeleteRequest{ID: id, IfMatch: version}, err
	}
}

// decodeDeleteFact reads the delete of a record that has no versions (an
// activity is logged once and never edited), so If-Match does not apply.
func decodeDeleteFact(notFound error) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		id, err := httpkit.PathID(r, "id", notFound)
		return endpoint.DeleteRequest{ID: id}, err
	}
}

// pathIDAndVersion reads {id} and the If-Match condition of a request that
// changes one record.
func pathIDAndVersion(r *http.Request, notFound error) (uuid.UUID, access.IfMatch, error) {
	id, err := httpkit.PathID(r, "id", notFound)
	if err != nil {
		return uuid.Nil, access.IfMatch{}, err
	}
	version, err := httpkit.IfMatch(r)
	return id, version, err
}

// cursor is the opaque position of a page.
type cursor struct {
	After uuid.UUID `json:"a"`
	Sort  string    `json:"s,omitempty"`
	Value string    `json:"v,omitempty"`
}

// decodePage reads ?limit= and ?cursor=.
func decodePage(r *http.Request) (limit int, after service.Cursor, err error) {
	limit, err = httpkit.ParseLimit(r, service.DefaultLimit, service.MaxLimit)
	if err != nil {
		return 0, after, err
	}
	if s := r.URL.Query().Get("cursor"); s != "" {
		var c cursor
		if err := httpkit.DecodeCursor(s, &c); err != nil {
			return 0, after, err
		}
		after = service.Cursor{ID: c.After, Sort: c.Sort, Value: c.Value}
	}
	return limit, after, nil
}

// writePage renders a page of items with the cursor of the next one.
func writePage[T any, J any](w http.ResponseWriter, p service.Page[T], view func(T) J) error {
	page := httpkit.Page[J]{Items: make([]J, 0, len(p.Items))}
	for _, it := range p.Items {
		page.Items = append(page.Items, view(it))
	}
	if p.Next != nil {
		page.NextCursor = httpkit.EncodeCursor(cursor{After: p.Next.ID, Sort: p.Next.Sort, Value: p.Next.Value})
	}
	return httpkit.WriteJSON(w, http.StatusOK, page)
}

// writeRecord renders a created or read record with its ETag (and Location
// when it was created).
func writeRecord(w http.ResponseWriter, created bool, collection string, id uuid.UUID, version int64, body any) error {
	w.Header().Set("ETag", httpkit.ETag(version))
	status := http.StatusOK
	if created {
		w.Header().Set("Location", collection+"/"+id.String())
		status = http.StatusCreated
	}
	return httpkit.WriteJSON(w, status, body)
}

func encodeDelete(ctx context.Context, w http.ResponseWriter, resp any) error {
	if err := resp.(interface{ Failed() error }).Failed(); err != nil {
		httpkit.EncodeError(ctx, err, w)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// queryTime reads an optional RFC 3339 instant from the query.
func queryTime(v *apperr.Invalid, r *http.Request, name string) time.Time {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.Add(name, "must be an RFC 3339 time such as 2026-01-31T00:00:00Z")
	}
	return t
}

// timeJSON renders an optional instant as null when unset.
func timeJSON(t time.Time, ok bool) *time.Time {
	if !ok {
		return nil
	}
	return &t
}

// QueryParams are the query parameters each route takes (the OpenAPI
// document lists the same, and custom.<key> in its prose); a route not
// named takes none.
var QueryParams = map[string][]string{
	"GET /v1/contacts":                append([]string{"limit", "cursor"}, contactFilters...),
	"GET /v1/contacts/export":         append([]string{"format"}, contactFilters...),
	"POST /v1/contacts":               {"allow_duplicate"},
	"PATCH /v1/contacts/{id}":         {"allow_duplicate"},
	"GET /v1/contacts/duplicates":     {"limit", "cursor"},
	"GET /v1/contacts/{id}/timeline":  {"limit", "cursor"},
	"GET /v1/companies":               {"q", "limit", "cursor"},
	"GET /v1/companies/export":        {"format", "q"},
	"POST /v1/companies":              {"allow_duplicate"},
	"PATCH /v1/companies/{id}":        {"allow_duplicate"},
	"GET /v1/companies/{id}/contacts": {"limit", "cursor"},
	"GET /v1/activities":              {"contact_id", "company_id", "limit", "cursor"},
	"GET /v1/fields":                  {"entity"},
	"POST /v1/imports":                {"entity", "on_duplicate", "encoding", "dry_run", "mapping"},
}

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

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Routes registers the /v1/contacts API on mux.
func Routes(mux *http.ServeMux, e endpoint.Endpoints) {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpkit.EncodeError)}
	mux.Handle("POST /v1/contacts", kithttp.NewServer(e.Create, decodeCreate, encodeContact, opts...))
	mux.Handle("GET /v1/contacts", kithttp.NewServer(e.List, decodeList, encodeList, opts...))
	mux.Handle("GET /v1/contacts/{id}", kithttp.NewServer(e.Get, decodeGet, encodeContact, opts...))
	mux.Handle("PATCH /v1/contacts/{id}", kithttp.NewServer(e.Update, decodeUpdate, encodeContact, opts...))
	mux.Handle("DELETE /v1/contacts/{id}", kithttp.NewServer(e.Delete, decodeDelete, encodeDelete, opts...))
}

// contactBody is the JSON a client sends to create a contact.
type contactBody struct {
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Emails    []string `json:"emails"`
	Phones    []string `json:"phones"`
	OwnerID   string   `json:"owner_id"`
	Tags      []string `json:"tags"`
}

// patchBody is a partial update: absent fields stay as they are.
type patchBody struct {
	FirstName *string   `json:"first_name"`
	LastName  *string   `json:"last_name"`
	Emails    *[]string `json:"emails"`
	Phones    *[]string `json:"phones"`
	OwnerID   *string   `json:"owner_id"`
	Tags      *[]string `json:"tags"`
}

// contactJSON is a contact as the API shows it.
type contactJSON struct {
	ID        uuid.UUID `json:"id"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Emails    []string  `json:"emails"`
	Phones    []string  `json:"phones"`
	OwnerID   string    `json:"owner_id"`
	Tags      []string  `json:"tags"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func view(c *domain.Contact) contactJSON {
	f := c.Fields()
	return contactJSON{ID: c.ID(), FirstName: f.FirstName, LastName: f.LastName, Emails: f.Emails, Phones: f.Phones,
		OwnerID: f.OwnerID, Tags: f.Tags, Version: c.Version(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
}

func decodeCreate(_ context.Context, r *http.Request) (any, error) {
	var b contactBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.CreateRequest{Fields: domain.Fields{FirstName: b.FirstName, LastName: b.LastName, Emails: b.Emails,
		Phones: b.Phones, OwnerID: b.OwnerID, Tags: b.Tags}}, nil
}

// pathID reads {id}; a malformed id names no contact, so it is a 404 like a
// missing one.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, domain.ErrContactNotFound
	}
	return id, nil
}

func decodeGet(_ context.Context, r *http.Request) (any, error) {
	id, err := pathID(r)
	return endpoint.GetRequest{ID: id}, err
}

func ifMatch(r *http.Request) (int64, error) {
	v, ok, err := httpkit.IfMatch(r)
	if err != nil || !ok {
		return 0, err
	}
	return v, nil
}

func decodeUpdate(_ context.Context, r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	version, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	var b patchBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.UpdateRequest{ID: id, IfMatch: version, Patch: domain.Patch{FirstName: b.FirstName, LastName: b.LastName,
		Emails: b.Emails, Phones: b.Phones, OwnerID: b.OwnerID, Tags: b.Tags}}, nil
}

func decodeDelete(_ context.Context, r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	version, err := ifMatch(r)
	return endpoint.DeleteRequest{ID: id, IfMatch: version}, err
}

type cursor struct {
	After uuid.UUID `json:"a"`
}

func decodeList(_ context.Context, r *http.Request) (any, error) {
	limit, err := httpkit.ParseLimit(r, service.DefaultLimit, service.MaxLimit)
	if err != nil {
		return nil, err
	}
	q := service.ListQuery{Limit: limit}
	if s := r.URL.Query().Get("cursor"); s != "" {
		var c cursor
		if err := httpkit.DecodeCursor(s, &c); err != nil {
			return nil, err
		}
		q.After = c.After
	}
	return endpoint.ListRequest{Query: q}, nil
}

func encodeContact(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ContactResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	w.Header().Set("ETag", httpkit.ETag(r.Contact.Version()))
	status := http.StatusOK
	if r.Created {
		w.Header().Set("Location", "/v1/contacts/"+r.Contact.ID().String())
		status = http.StatusCreated
	}
	return httpkit.WriteJSON(w, status, view(r.Contact))
}

func encodeDelete(ctx context.Context, w http.ResponseWriter, resp any) error {
	if err := resp.(endpoint.DeleteResponse).Err; err != nil {
		httpkit.EncodeError(ctx, err, w)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func encodeList(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	page := httpkit.Page[contactJSON]{Items: make([]contactJSON, 0, len(r.Result.Contacts))}
	for _, c := range r.Result.Contacts {
		page.Items = append(page.Items, view(c))
	}
	if r.Result.Next != uuid.Nil {
		page.NextCursor = httpkit.EncodeCursor(cursor{After: r.Result.Next})
	}
	return httpkit.WriteJSON(w, http.StatusOK, page)
}

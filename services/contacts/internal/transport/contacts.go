package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// addressJSON is an address as the API shows and takes it.
type addressJSON struct {
	Country    string `json:"country"`
	Region     string `json:"region"`
	City       string `json:"city"`
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
}

func addressView(a domain.Address) *addressJSON {
	if a.IsZero() {
		return nil
	}
	v := addressJSON(a)
	return &v
}

// contactBody is the JSON a client sends to create a contact.
type contactBody struct {
	FirstName      string         `json:"first_name"`
	LastName       string         `json:"last_name"`
	Emails         []string       `json:"emails"`
	Phones         []string       `json:"phones"`
	OwnerID        string         `json:"owner_id"`
	Tags           []string       `json:"tags"`
	CompanyID      string         `json:"company_id"`
	Position       string         `json:"position"`
	LifecycleStage string         `json:"lifecycle_stage"`
	Source         string         `json:"source"`
	Timezone       string         `json:"timezone"`
	Address        *addressJSON   `json:"address"`
	Birthday       string         `json:"birthday"`
	Team           string         `json:"team"`
	SharedWith     *sharesJSON    `json:"shared_with"`
	Custom         map[string]any `json:"custom"`
}

// sharesJSON names the users and teams a contact is shared with.
type sharesJSON struct {
	Users []string `json:"users"`
	Teams []string `json:"teams"`
}

// patchBody is a partial update: absent members stay as they are; null
// clears company_id, timezone (derived again), address and birthday.
type patchBody struct {
	FirstName      *string                       `json:"first_name"`
	LastName       *string                       `json:"last_name"`
	Emails         *[]string                     `json:"emails"`
	Phones         *[]string                     `json:"phones"`
	OwnerID        *string                       `json:"owner_id"`
	Tags           *[]string                     `json:"tags"`
	CompanyID      httpkit.Nullable[string]      `json:"company_id"`
	Position       *string                       `json:"position"`
	LifecycleStage *string                       `json:"lifecycle_stage"`
	Source         *string                       `json:"source"`
	Timezone       httpkit.Nullable[string]      `json:"timezone"`
	Address        httpkit.Nullable[addressJSON] `json:"address"`
	Birthday       httpkit.Nullable[string]      `json:"birthday"`
	Team           *string                       `json:"team"`
	SharedWith     *sharesJSON                   `json:"shared_with"`
	Custom         map[string]any                `json:"custom"`
}

// contactJSON is a contact as the API shows it.
type contactJSON struct {
	ID             uuid.UUID      `json:"id"`
	FirstName      string         `json:"first_name"`
	LastName       string         `json:"last_name"`
	Emails         []string       `json:"emails"`
	Phones         []string       `json:"phones"`
	OwnerID        string         `json:"owner_id"`
	Tags           []string       `json:"tags"`
	CompanyID      *uuid.UUID     `json:"company_id"`
	Position       string         `json:"position"`
	LifecycleStage string         `json:"lifecycle_stage"`
	Source         string         `json:"source"`
	Timezone       *string        `json:"timezone"`
	LocalTime      *time.Time     `json:"local_time"`
	Address        *addressJSON   `json:"address"`
	Birthday       *string        `json:"birthday"`
	Version        int64          `json:"version"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	Team           string         `json:"team"`
	SharedWith     sharesJSON     `json:"shared_with"`
	Custom         map[string]any `json:"custom"`
	// ErasedAt is set once the person's data was erased.
	ErasedAt *time.Time `json:"erased_at"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func contactView(c *domain.Contact) contactJSON {
	f := c.Fields()
	v := contactJSON{ID: c.ID(), FirstName: f.FirstName, LastName: f.LastName, Emails: f.Emails, Phones: f.Phones,
		OwnerID: f.OwnerID, Tags: f.Tags, Position: f.Position, LifecycleStage: f.LifecycleStage, Source: f.Source,
		Timezone: nonEmpty(f.Timezone), LocalTime: timeJSON(c.LocalTime(time.Now().Truncate(time.Second))),
		Address: addressView(f.Address), Birthday: nonEmpty(f.Birthday),
		Version: c.Version(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt(), ErasedAt: timeJSON(c.ErasedAt(), c.Erased()),
		Team: f.Team, SharedWith: sharesJSON{Users: f.SharedWithUsers, Teams: f.SharedWithTeams}, Custom: f.Custom}
	if v.Custom == nil {
		v.Custom = map[string]any{}
	}
	if v.SharedWith.Users == nil {
		v.SharedWith.Users = []string{}
	}
	if v.SharedWith.Teams == nil {
		v.SharedWith.Teams = []string{}
	}
	if f.CompanyID != uuid.Nil {
		v.CompanyID = &f.CompanyID
	}
	return v
}

func writeOptions(r *http.Request) (service.WriteOptions, error) {
	allow, err := httpkit.ParseBool(r, "allow_duplicate")
	return service.WriteOptions{AllowDuplicate: allow}, err
}

func decodeCreate(_ context.Context, r *http.Request) (any, error) {
	o, err := writeOptions(r)
	if err != nil {
		return nil, err
	}
	var b contactBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	f := domain.Fields{FirstName: b.FirstName, LastName: b.LastName, Emails: b.Emails, Phones: b.Phones,
		OwnerID: b.OwnerID, Tags: b.Tags, CompanyID: httpkit.OptionalID(&v, "company_id", b.CompanyID),
		Position: b.Position, LifecycleStage: b.LifecycleStage, Source: b.Source, Timezone: b.Timezone,
		Birthday: b.Birthday, Team: b.Team, Custom: b.Custom}
	if b.Address != nil {
		f.Address = domain.Address(*b.Address)
	}
	if b.SharedWith != nil {
		f.SharedWithUsers, f.SharedWithTeams = b.SharedWith.Users, b.SharedWith.Teams
	}
	return endpoint.CreateRequest{Fields: f, Options: o}, v.Err()
}

func decodeUpdate(_ context.Context, r *http.Request) (any, error) {
	id, version, err := pathIDAndVersion(r, domain.ErrContactNotFound)
	if err != nil {
		return nil, err
	}
	o, err := writeOptions(r)
	if err != nil {
		return nil, err
	}
	var b patchBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	p := domain.Patch{FirstName: b.FirstName, LastName: b.LastName, Emails: b.Emails, Phones: b.Phones,
		OwnerID: b.OwnerID, Tags: b.Tags, Position: b.Position, LifecycleStage: b.LifecycleStage, Source: b.Source,
		Timezone: b.Timezone.Ptr(), Birthday: b.Birthday.Ptr(), Team: b.Team, Custom: b.Custom}
	if b.SharedWith != nil {
		p.SharedWithUsers, p.SharedWithTeams = &b.SharedWith.Users, &b.SharedWith.Teams
	}
	var v apperr.Invalid
	if b.CompanyID.Set {
		company := httpkit.OptionalID(&v, "company_id", b.CompanyID.Value)
		p.CompanyID = &company
	}
	if b.Address.Set {
		a := domain.Address(b.Address.Value)
		p.Address = &a
	}
	return endpoint.UpdateRequest{ID: id, IfMatch: version, Patch: p, Options: o}, v.Err()
}

// contactFilters are the query parameters that select and order contacts.
var contactFilters = []string{"q", "sort", "company_id", "owner_id", "tag", "lifecycle_stage", "source",
	"created_from", "created_to", "updated_from", "updated_to", "custom."}

// decodeContactQuery reads the search box, the filters and the order of a
// contact list, or of an export of the contacts a list would show.
func decodeContactQuery(_ context.Context, r *http.Request) (any, error) {
	limit, after, err := decodePage(r)
	if err != nil {
		return nil, err
	}
	qs := r.URL.Query()
	var v apperr.Invalid
	q := service.ListQuery{Limit: limit, After: after, Sort: qs.Get("sort"), Q: qs.Get("q"),
		CompanyID: httpkit.OptionalID(&v, "company_id", qs.Get("company_id")), OwnerID: qs.Get("owner_id"),
		Tag: qs.Get("tag"), LifecycleStage: qs.Get("lifecycle_stage"), Source: qs.Get("source"),
		CreatedFrom: queryTime(&v, r, "created_from"), CreatedTo: queryTime(&v, r, "created_to"),
		UpdatedFrom: queryTime(&v, r, "updated_from"), UpdatedTo: queryTime(&v, r, "updated_to")}
	for name, vals := range qs {
		if key, ok := strings.CutPrefix(name, "custom."); ok && len(vals) > 0 {
			if q.Custom == nil {
				q.Custom = map[string]string{}
			}
			q.Custom[key] = vals[0]
		}
	}
	return endpoint.ListRequest{Query: q}, v.Err()
}

func decodeCompanyContacts(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathID(r, "id", domain.ErrCompanyNotFound)
	if err != nil {
		return nil, err
	}
	limit, after, err := decodePage(r)
	return endpoint.CompanyContactsRequest{CompanyID: id, Query: service.ListQuery{Limit: limit, After: after}}, err
}

func encodeContact(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ContactResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writeRecord(w, r.Created, "/v1/contacts", r.Contact.ID(), r.Contact.Version(), contactView(r.Contact))
}

func encodeList(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writePage(w, r.Page, contactView)
}

// exportJSON is everything the service holds about a person.
type exportJSON struct {
	Contact    contactJSON    `json:"contact"`
	Activities []activityJSON `json:"activities"`
	Timeline   []timelineJSON `json:"timeline"`
	// Merged holds the records merged into the contact, kept for an unmerge.
	Merged     []json.RawMessage `json:"merged"`
	ExportedAt time.Time         `json:"exported_at"`
}

func encodeExport(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ExportResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	x := exportJSON{Contact: contactView(r.Export.Contact), Activities: make([]activityJSON, 0, len(r.Export.Activities)),
		Timeline: make([]timelineJSON, 0, len(r.Export.Timeline)), Merged: r.Export.Merged, ExportedAt: r.Export.ExportedAt}
	if x.Merged == nil {
		x.Merged = []json.RawMessage{}
	}
	for _, a := range r.Export.Activities {
		x.Activities = append(x.Activities, activityView(a))
	}
	for _, e := range r.Export.Timeline {
		x.Timeline = append(x.Timeline, timelineView(e))
	}
	w.Header().Set("Content-Disposition", `attachment; filename="contact-`+r.Export.Contact.ID().String()+`.json"`)
	return httpkit.WriteJSON(w, http.StatusOK, x)
}

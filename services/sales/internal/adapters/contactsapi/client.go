// Package contactsapi calls the contacts service's HTTP API on behalf of the
// user whose request sales is serving: the user's own token goes along, so
// contacts applies its own tenancy and visibility rules.
package contactsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/sales/internal/service"
)

// Client is service.Contacts over HTTP.
type Client struct{ peer *httpkit.Peer }

// New returns a client of the contacts service at base.
func New(base *url.URL) *Client { return &Client{peer: httpkit.NewPeer("contacts", base)} }

type record struct {
	ID         uuid.UUID  `json:"id"`
	CompanyID  *uuid.UUID `json:"company_id"`
	FirstName  string     `json:"first_name"`
	LastName   string     `json:"last_name"`
	Name       string     `json:"name"`
	Version    int64      `json:"version"`
	MergedInto *uuid.UUID `json:"merged_into"`
	// A contact's visibility; a company has none of these.
	OwnerID    string `json:"owner_id"`
	Team       string `json:"team"`
	SharedWith *struct {
		Users []string `json:"users"`
		Teams []string `json:"teams"`
	} `json:"shared_with"`
}

func (r record) party() service.Party {
	p := service.Party{ID: r.ID, Version: r.Version, Name: strings.TrimSpace(r.FirstName + " " + r.LastName)}
	if r.SharedWith != nil {
		p.Access = &access.Record{Owner: r.OwnerID, Team: r.Team, SharedUsers: r.SharedWith.Users, SharedTeams: r.SharedWith.Teams}
	}
	if r.Name != "" {
		p.Name = r.Name
	}
	if r.CompanyID != nil {
		p.CompanyID = *r.CompanyID
	}
	if r.MergedInto != nil {
		p.MergedInto = *r.MergedInto
	}
	return p
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, headers ...string) (*http.Response, []byte, error) {
	return c.peer.Do(ctx, method, path, body, headers...)
}

func (c *Client) get(ctx context.Context, path string) (service.Party, bool, error) {
	resp, raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return service.Party{}, false, err
	}
	var rec record
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := json.Unmarshal(raw, &rec); err != nil {
			return service.Party{}, false, fmt.Errorf("contactsapi: %s: %w", path, err)
		}
		return rec.party(), true, nil
	case resp.StatusCode == http.StatusNotFound:
		// A merged contact's 404 names the one it lives on in.
		_ = json.Unmarshal(raw, &rec)
		return rec.party(), false, nil
	default:
		return service.Party{}, false, c.peer.UnexpectedStatus(http.MethodGet, path, resp)
	}
}

// Contact asks contacts for a contact.
func (c *Client) Contact(ctx context.Context, id uuid.UUID) (service.Party, bool, error) {
	return c.get(ctx, "v1/contacts/"+id.String())
}

// Company asks contacts for a company.
func (c *Client) Company(ctx context.Context, id uuid.UUID) (service.Party, bool, error) {
	return c.get(ctx, "v1/companies/"+id.String())
}

// CreateContact creates a contact; the request's Idempotency-Key, when it
// has one, goes along (derived), so a retried quick deal makes one contact.
func (c *Client) CreateContact(ctx context.Context, body []byte, keyed bool) (service.Party, error) {
	key := httpkit.CallerFrom(ctx).IdempotencyKey
	if key != "" && keyed {
		key = "quick-deal-" + key
	} else {
		key = ""
	}
	resp, raw, err := c.do(ctx, http.MethodPost, "v1/contacts", body, "Idempotency-Key", key)
	if err != nil {
		return service.Party{}, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return service.Party{}, c.refusal(resp, raw)
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return service.Party{}, fmt.Errorf("contactsapi: create: %w", err)
	}
	return rec.party(), nil
}

// DeleteContact deletes a contact at version.
func (c *Client) DeleteContact(ctx context.Context, id uuid.UUID, version int64) error {
	resp, _, err := c.do(ctx, http.MethodDelete, "v1/contacts/"+id.String(), nil, "If-Match", httpkit.ETag(version))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("contactsapi: delete contact %s: %s", id, resp.Status)
	}
	return nil
}

var kinds = map[int]apperr.Kind{
	http.StatusBadRequest: apperr.KindBadRequest, http.StatusForbidden: apperr.KindForbidden, http.StatusConflict: apperr.KindConflict,
	http.StatusUnprocessableEntity: apperr.KindInvalid, http.StatusRequestEntityTooLarge: apperr.KindTooLarge,
	http.StatusTooManyRequests: apperr.KindRateLimited, http.StatusUnauthorized: apperr.KindUnauthorized,
}

// refusal turns the contacts service's problem about the inline contact
// into this request's problem: same kind and type, its fields under
// "contact/", its extensions (such as duplicates) kept.
func (c *Client) refusal(resp *http.Response, raw []byte) error {
	kind, ok := kinds[resp.StatusCode]
	if !ok {
		return c.peer.UnexpectedStatus(http.MethodPost, "v1/contacts", resp)
	}
	var p map[string]json.RawMessage
	_ = json.Unmarshal(raw, &p)
	e := &apperr.Error{Kind: kind, Extensions: map[string]any{}}
	var s string
	if json.Unmarshal(p["type"], &s) == nil {
		e.Slug = strings.TrimPrefix(s, httpkit.ProblemBase)
	}
	if json.Unmarshal(p["detail"], &s) == nil {
		e.Message = "the contact: " + s
	}
	var fields []apperr.FieldError
	if json.Unmarshal(p["errors"], &fields) == nil {
		for _, f := range fields {
			e.Fields = append(e.Fields, apperr.FieldError{Field: "contact/" + f.Field, Message: f.Message})
		}
	}
	for k, v := range p {
		switch k {
		case "type", "title", "status", "detail", "instance", "errors", "request_id":
		default:
			e.Extensions[k] = v
		}
	}
	return e
}

// DealFields lists the tenant's custom fields of deals.
func (c *Client) DealFields(ctx context.Context) ([]service.Field, error) {
	resp, raw, err := c.do(ctx, http.MethodGet, "v1/fields", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.peer.UnexpectedStatus(http.MethodGet, "v1/fields", resp)
	}
	var page struct {
		Items []struct {
			ID       uuid.UUID            `json:"id"`
			Entity   string               `json:"entity"`
			Key      string               `json:"key"`
			Label    string               `json:"label"`
			Type     string               `json:"type"`
			Required bool                 `json:"required"`
			Options  []customfield.Option `json:"options"`
			Version  int64                `json:"version"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("contactsapi: fields: %w", err)
	}
	var out []service.Field
	for _, f := range page.Items {
		if f.Entity == catalog.EntityDeal {
			out = append(out, service.Field{ID: f.ID, Version: f.Version, Def: customfield.Def{Entity: f.Entity, Key: f.Key,
				Label: f.Label, Type: f.Type, Required: f.Required, Options: f.Options}})
		}
	}
	return out, nil
}

// LeadSources lists the values of the tenant's lead sources.
func (c *Client) LeadSources(ctx context.Context) ([]string, error) {
	resp, raw, err := c.do(ctx, http.MethodGet, "v1/lead-sources", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.peer.UnexpectedStatus(http.MethodGet, "v1/lead-sources", resp)
	}
	var page struct {
		Items []struct {
			Value string `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("contactsapi: lead sources: %w", err)
	}
	out := make([]string, 0, len(page.Items))
	for _, it := range page.Items {
		out = append(out, it.Value)
	}
	return out, nil
}

// Package peers asks the contacts and sales services about the records a
// task names, on behalf of the user whose request tasks is serving: the
// user's own token goes along, so each service applies its own tenancy and
// visibility rules.
package peers

import (
	"context"
	"net/url"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// Peers is service.Peers over HTTP.
type Peers struct{ contacts, sales *httpkit.Peer }

// New asks the contacts service at contacts and the sales service at sales.
func New(contacts, sales *url.URL) *Peers {
	return &Peers{contacts: httpkit.NewPeer("contacts", contacts), sales: httpkit.NewPeer("sales", sales)}
}

var _ service.Peers = (*Peers)(nil)

// record is what tasks reads of a contact, a company or a deal.
type record struct {
	ID         uuid.UUID `json:"id"`
	Timezone   string    `json:"timezone"`
	OwnerID    string    `json:"owner_id"`
	Team       string    `json:"team"`
	Status     string    `json:"status"`
	ContactID  uuid.UUID `json:"contact_id"`
	CompanyID  uuid.UUID `json:"company_id"`
	Version    int64     `json:"version"`
	SharedWith struct {
		Users []string `json:"users"`
		Teams []string `json:"teams"`
	} `json:"shared_with"`
}

func (p *Peers) read(ctx context.Context, peer *httpkit.Peer, path string) (record, bool, error) {
	var r record
	found, err := peer.Read(ctx, path, &r)
	return r, found, err
}

// Contact asks contacts for a contact the caller sees.
func (p *Peers) Contact(ctx context.Context, id uuid.UUID) (service.Known, bool, error) {
	r, found, err := p.read(ctx, p.contacts, "v1/contacts/"+id.String())
	return service.Known{ID: r.ID, TimeZone: r.Timezone, Version: r.Version,
		Access: &access.Record{Owner: r.OwnerID, Team: r.Team, SharedUsers: r.SharedWith.Users, SharedTeams: r.SharedWith.Teams}}, found, err
}

// Company asks contacts for a company.
func (p *Peers) Company(ctx context.Context, id uuid.UUID) (service.Known, bool, error) {
	r, found, err := p.read(ctx, p.contacts, "v1/companies/"+id.String())
	return service.Known{ID: r.ID, Version: r.Version, Access: &access.Record{Everyone: true}}, found, err
}

// Deal asks sales for a deal the caller sees.
func (p *Peers) Deal(ctx context.Context, id uuid.UUID) (service.Known, bool, error) {
	r, found, err := p.read(ctx, p.sales, "v1/deals/"+id.String())
	return service.Known{ID: r.ID, ContactID: r.ContactID, CompanyID: r.CompanyID, OwnerID: r.OwnerID, Team: r.Team,
		Status: r.Status, Version: r.Version, Access: &access.Record{Owner: r.OwnerID, Team: r.Team}}, found, err
}

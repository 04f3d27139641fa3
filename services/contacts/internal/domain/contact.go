// Package domain holds the contacts service's entities and their invariants.
// No I/O happens here.
package domain

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/customfield"
)

// Lifecycle stages of a contact, in the order a client usually moves.
const (
	StageLead     = "lead"
	StageProspect = "prospect"
	StageCustomer = "customer"
	StageChurned  = "churned"
	StageArchived = "archived"
)

// LifecycleStages lists the valid stages.
var LifecycleStages = []string{StageLead, StageProspect, StageCustomer, StageChurned, StageArchived}

// Address is a postal address. Country is ISO 3166-1 alpha-2.
type Address struct {
	Country    string
	Region     string
	City       string
	Street     string
	PostalCode string
}

// IsZero reports an empty address.
func (a Address) IsZero() bool { return a == Address{} }

func (a Address) clean(v *apperr.Invalid, field string) Address {
	out := Address{
		Country:    strings.ToUpper(strings.TrimSpace(a.Country)),
		Region:     cleanText(v, field+"/region", a.Region, MaxTextLen),
		City:       cleanText(v, field+"/city", a.City, MaxTextLen),
		Street:     cleanText(v, field+"/street", a.Street, MaxTextLen),
		PostalCode: cleanText(v, field+"/postal_code", a.PostalCode, 20),
	}
	if out.Country != "" && !ValidCountry(out.Country) {
		v.Add(field+"/country", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", a.Country))
	}
	return out
}

// Contact is a person in a tenant's client base.
type Contact struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	f         Fields
	tzDerived bool
	version   int64
	createdAt time.Time
	updatedAt time.Time
	erasedAt  time.Time // zero unless the person's data was erased
	// storedSortName is the sort key as stored, for a contact read back.
	storedSortName *string
}

// Fields are the values a client may set on a contact.
type Fields struct {
	FirstName      string
	LastName       string
	Emails         []string
	Phones         []string
	OwnerID        string
	Tags           []string
	CompanyID      uuid.UUID // uuid.Nil: none
	Position       string
	LifecycleStage string
	Source         string
	// Timezone is an IANA zone; when the client gives none it is derived
	// from the phones or the address country (see Contact.TimezoneDerived).
	Timezone string
	Address  Address
	// Birthday is a calendar date YYYY-MM-DD, or "".
	Birthday string
	// Team owns the contact: its managers see it. "" is no team.
	Team string
	// SharedWithUsers and SharedWithTeams see the contact too.
	SharedWithUsers []string
	SharedWithTeams []string
	// Custom holds the values of the tenant's custom fields by key. In a
	// write it holds the values to set (null clears one).
	Custom map[string]any
}

// NewContact validates fields and creates version 1 of a contact. Every
// broken rule is reported, each under its JSON path.
func NewContact(tenantID uuid.UUID, f Fields, s Settings, now time.Time) (*Contact, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	c := &Contact{id: id, tenantID: tenantID, version: 1, createdAt: now, updatedAt: now}
	if err := c.set(f, nil, f.Timezone != "", s, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Patch holds the fields a partial update changes; nil leaves a field alone.
// CompanyID pointing at uuid.Nil, and Timezone or Birthday pointing at "",
// clear the field.
type Patch struct {
	FirstName       *string
	LastName        *string
	Emails          *[]string
	Phones          *[]string
	OwnerID         *string
	Tags            *[]string
	CompanyID       *uuid.UUID
	Position        *string
	LifecycleStage  *string
	Source          *string
	Timezone        *string
	Address         *Address
	Birthday        *string
	Team            *string
	SharedWithUsers *[]string
	SharedWithTeams *[]string
	// Custom sets (or, with null, clears) the custom values it names.
	Custom map[string]any
}

// Apply changes the contact as the patch says, validating the result, and
// returns the JSON names of the fields whose values changed. The version
// advances only when something changed. A derived time zone follows the
// phones and address; a given one stays until the client changes it.
func (c *Contact) Apply(p Patch, s Settings, now time.Time) ([]string, error) {
	if c.Erased() {
		return nil, ErrContactErased
	}
	f := c.Fields()
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.FirstName, p.FirstName)
	set(&f.LastName, p.LastName)
	set(&f.OwnerID, p.OwnerID)
	set(&f.Position, p.Position)
	set(&f.LifecycleStage, p.LifecycleStage)
	set(&f.Source, p.Source)
	set(&f.Birthday, p.Birthday)
	if p.Emails != nil {
		f.Emails = *p.Emails
	}
	if p.Phones != nil {
		f.Phones = *p.Phones
	}
	if p.Tags != nil {
		f.Tags = *p.Tags
	}
	if p.CompanyID != nil {
		f.CompanyID = *p.CompanyID
	}
	if p.Address != nil {
		f.Address = *p.Address
	}
	set(&f.Team, p.Team)
	if p.SharedWithUsers != nil {
		f.SharedWithUsers = *p.SharedWithUsers
	}
	if p.SharedWithTeams != nil {
		f.SharedWithTeams = *p.SharedWithTeams
	}
	explicit := f.Timezone != "" && !c.tzDerived
	if p.Timezone != nil {
		f.Timezone = *p.Timezone
		explicit = f.Timezone != ""
	}
	f.Custom = p.Custom
	// Validate a copy so that a refused patch leaves the contact untouched.
	next := *c
	if err := next.set(f, c.f.Custom, explicit, s, now); err != nil {
		return nil, err
	}
	changed := diff(c.f, next.f)
	if len(changed) > 0 {
		next.version++
		next.updatedAt = stamp(now)
		next.storedSortName = nil
	}
	*c = next
	return changed, nil
}

// set validates f as the contact's new values; f.Custom are the custom
// values to merge into prev.
func (c *Contact) set(f Fields, prev map[string]any, tzExplicit bool, s Settings, now time.Time) error {
	var v apperr.Invalid
	n := Fields{
		FirstName:       cleanText(&v, "first_name", f.FirstName, MaxNameLen),
		LastName:        cleanText(&v, "last_name", f.LastName, MaxNameLen),
		Emails:          cleanEmails(&v, "emails", f.Emails),
		Phones:          cleanPhones(&v, "phones", f.Phones, s),
		Tags:            cleanTags(&v, f.Tags),
		OwnerID:         cleanOwner(&v, f.OwnerID),
		CompanyID:       f.CompanyID,
		Position:        cleanText(&v, "position", f.Position, MaxTextLen),
		Source:          cleanSource(&v, f.Source, c.f.Source, s.LeadSources),
		Address:         f.Address.clean(&v, "address"),
		Team:            cleanText(&v, "team", f.Team, MaxOwnerLen),
		SharedWithUsers: cleanList(&v, "shared_with/users", f.SharedWithUsers, MaxShares, "users", cleanName),
		SharedWithTeams: cleanList(&v, "shared_with/teams", f.SharedWithTeams, MaxShares, "teams", cleanName),
	}
	n.LifecycleStage = strings.ToLower(strings.TrimSpace(f.LifecycleStage))
	if n.LifecycleStage == "" {
		n.LifecycleStage = StageLead
	} else if !oneOf(n.LifecycleStage, LifecycleStages) {
		v.Add("lifecycle_stage", "one of "+strings.Join(LifecycleStages, ", "))
	}
	n.Birthday = cleanBirthday(&v, f.Birthday, now)
	n.Custom = customfield.Clean(&v, s.ContactFields, prev, f.Custom)
	if n.FirstName == "" && n.LastName == "" && len(n.Emails) == 0 && len(n.Phones) == 0 {
		v.Add("first_name", "a contact needs a name, an e-mail or a phone")
	}
	derived := false
	if tzExplicit {
		n.Timezone = strings.TrimSpace(f.Timezone)
		if _, err := LoadTimezone(n.Timezone); err != nil {
			v.Add("timezone", fmt.Sprintf("%q is not an IANA time zone such as Europe/Moscow", f.Timezone))
		}
	} else {
		n.Timezone, derived = deriveTimezone(n.Phones, n.Address)
	}
	if err := v.Err(); err != nil {
		return err
	}
	c.f, c.tzDerived = n, derived
	return nil
}

// deriveTimezone takes the zone of the first phone that has exactly one,
// else that of a single-zone address country.
func deriveTimezone(phones []string, a Address) (string, bool) {
	for _, p := range phones {
		if tz, ok := TimezoneOfPhone(p); ok {
			return tz, true
		}
	}
	if a.Country != "" {
		if tz, ok := TimezoneOfCountry(a.Country); ok {
			return tz, true
		}
	}
	return "", false
}

func cleanBirthday(v *apperr.Invalid, s string, now time.Time) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	d, err := time.Parse(time.DateOnly, s)
	switch {
	case err != nil:
		v.Add("birthday", fmt.Sprintf("%q is not a date YYYY-MM-DD", s))
	case d.Year() < 1900 || d.After(now):
		v.Add("birthday", "a birthday lies between 1900-01-01 and today")
	}
	return s
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func diff(a, b Fields) []string {
	var changed []string
	add := func(name string, differ bool) {
		if differ {
			changed = append(changed, name)
		}
	}
	add("first_name", a.FirstName != b.FirstName)
	add("last_name", a.LastName != b.LastName)
	add("emails", !slices.Equal(a.Emails, b.Emails))
	add("phones", !slices.Equal(a.Phones, b.Phones))
	add("owner_id", a.OwnerID != b.OwnerID)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("company_id", a.CompanyID != b.CompanyID)
	add("position", a.Position != b.Position)
	add("lifecycle_stage", a.LifecycleStage != b.LifecycleStage)
	add("source", a.Source != b.Source)
	add("timezone", a.Timezone != b.Timezone)
	add("address", a.Address != b.Address)
	add("birthday", a.Birthday != b.Birthday)
	add("team", a.Team != b.Team)
	add("shared_with", !slices.Equal(a.SharedWithUsers, b.SharedWithUsers) || !slices.Equal(a.SharedWithTeams, b.SharedWithTeams))
	add("custom", !reflect.DeepEqual(a.Custom, b.Custom))
	return changed
}

// Erase removes the person's personal data for real: names, channels,
// position, employer, address, birthday, time zone, tags and custom values.
// What describes the relationship stays (owner, team, shares, lifecycle
// stage, lead source), and so does the id, which other records point at. It returns the
// JSON names of the fields it cleared.
func (c *Contact) Erase(now time.Time) ([]string, error) {
	if c.Erased() {
		return nil, ErrContactErased
	}
	next := Fields{OwnerID: c.f.OwnerID, LifecycleStage: c.f.LifecycleStage, Source: c.f.Source,
		Team: c.f.Team, SharedWithUsers: c.f.SharedWithUsers, SharedWithTeams: c.f.SharedWithTeams, Custom: map[string]any{}}
	changed := diff(c.f, next)
	c.f, c.tzDerived = next, false
	c.storedSortName = nil
	c.version++
	c.updatedAt = stamp(now)
	c.erasedAt = c.updatedAt
	return changed, nil
}

// Erased reports that the person's data was erased.
func (c *Contact) Erased() bool { return !c.erasedAt.IsZero() }

// ErasedAt is when the person's data was erased (zero if it was not).
func (c *Contact) ErasedAt() time.Time { return c.erasedAt }

// Fields returns a copy of the client-settable values.
func (c *Contact) Fields() Fields {
	f := c.f
	f.Emails, f.Phones, f.Tags = clone(f.Emails), clone(f.Phones), clone(f.Tags)
	f.SharedWithUsers, f.SharedWithTeams = clone(f.SharedWithUsers), clone(f.SharedWithTeams)
	f.Custom = maps.Clone(f.Custom)
	return f
}

// Shares are the contact's shares as stored and matched: "user:<id>" and
// "team:<name>".
func (c *Contact) Shares() []string {
	return tagged("user:", c.f.SharedWithUsers, "team:", c.f.SharedWithTeams)
}

// VisibleTo reports whether a viewer sees the contact, by the platform's
// one visibility rule (pkg/access).
func (c *Contact) VisibleTo(v Viewer) bool {
	return v.Sees(access.Record{Owner: c.f.OwnerID, Team: c.f.Team, SharedUsers: c.f.SharedWithUsers, SharedTeams: c.f.SharedWithTeams})
}

// Viewer is who looks at the client base, as visibility needs it.
type Viewer = access.Viewer

// Keys are the contact's normalised channels ("email:…", "phone:+…"): two
// contacts sharing one are likely the same person.
func (c *Contact) Keys() []string {
	return tagged("email:", c.f.Emails, "phone:", c.f.Phones)
}

// tagged lists as with prefix a, then bs with prefix b.
func tagged(a string, as []string, b string, bs []string) []string {
	out := make([]string, 0, len(as)+len(bs))
	for _, x := range as {
		out = append(out, a+x)
	}
	for _, x := range bs {
		out = append(out, b+x)
	}
	return out
}

// TimezoneDerived reports that the time zone was derived, not given.
func (c *Contact) TimezoneDerived() bool { return c.tzDerived }

// LocalTime is the client's wall-clock time at t, when the zone is known.
func (c *Contact) LocalTime(t time.Time) (time.Time, bool) {
	if c.f.Timezone == "" {
		return time.Time{}, false
	}
	loc, err := LoadTimezone(c.f.Timezone)
	if err != nil {
		return time.Time{}, false
	}
	return t.In(loc), true
}

func (c *Contact) ID() uuid.UUID        { return c.id }
func (c *Contact) TenantID() uuid.UUID  { return c.tenantID }
func (c *Contact) Version() int64       { return c.version }
func (c *Contact) CreatedAt() time.Time { return c.createdAt }
func (c *Contact) UpdatedAt() time.Time { return c.updatedAt }

// UnmarshalContactFromDatabase rebuilds a stored contact. It is not a
// constructor: it trusts its input, which the database got from NewContact.
func UnmarshalContactFromDatabase(id, tenantID uuid.UUID, f Fields, tzDerived bool, version int64, createdAt, updatedAt, erasedAt time.Time) *Contact {
	return &Contact{id: id, tenantID: tenantID, f: f, tzDerived: tzDerived, version: version, createdAt: createdAt,
		updatedAt: updatedAt, erasedAt: erasedAt}
}

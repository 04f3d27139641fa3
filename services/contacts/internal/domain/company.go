package domain

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/customfield"
)

// Company is an organisation in the client base; contacts work for one.
type Company struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	f         CompanyFields
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// CompanyFields are the values a client may set on a company. The legal
// details are what invoices and contracts print.
type CompanyFields struct {
	Name               string
	LegalName          string
	TaxID              string
	RegistrationNumber string
	LegalAddress       string
	Industry           string
	Website            string
	Phones             []string
	Emails             []string
	OwnerID            string
	Tags               []string
	// Custom holds custom values by key; in a write, the values to set.
	Custom map[string]any
}

// CompanyPatch holds the fields a partial update changes; nil leaves a field alone.
type CompanyPatch struct {
	Name               *string
	LegalName          *string
	TaxID              *string
	RegistrationNumber *string
	LegalAddress       *string
	Industry           *string
	Website            *string
	Phones             *[]string
	Emails             *[]string
	OwnerID            *string
	Tags               *[]string
	Custom             map[string]any
}

// NewCompany validates fields and creates version 1 of a company.
func NewCompany(tenantID uuid.UUID, f CompanyFields, s Settings, now time.Time) (*Company, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	c := &Company{id: id, tenantID: tenantID, version: 1, createdAt: now, updatedAt: now}
	if err := c.set(f, nil, s); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply changes the company as the patch says and returns the JSON names of
// the fields that changed; the version advances only when something did.
func (c *Company) Apply(p CompanyPatch, s Settings, now time.Time) ([]string, error) {
	f := c.Fields()
	for _, x := range []struct {
		dst *string
		src *string
	}{{&f.Name, p.Name}, {&f.LegalName, p.LegalName}, {&f.TaxID, p.TaxID}, {&f.RegistrationNumber, p.RegistrationNumber},
		{&f.LegalAddress, p.LegalAddress}, {&f.Industry, p.Industry}, {&f.Website, p.Website}, {&f.OwnerID, p.OwnerID}} {
		if x.src != nil {
			*x.dst = *x.src
		}
	}
	for _, x := range []struct {
		dst *[]string
		src *[]string
	}{{&f.Phones, p.Phones}, {&f.Emails, p.Emails}, {&f.Tags, p.Tags}} {
		if x.src != nil {
			*x.dst = *x.src
		}
	}
	f.Custom = p.Custom
	next := *c
	if err := next.set(f, c.f.Custom, s); err != nil {
		return nil, err
	}
	changed := companyDiff(c.f, next.f)
	if len(changed) > 0 {
		next.version++
		next.updatedAt = stamp(now)
	}
	*c = next
	return changed, nil
}

func (c *Company) set(f CompanyFields, prev map[string]any, s Settings) error {
	var v apperr.Invalid
	n := CompanyFields{
		Name:               cleanText(&v, "name", f.Name, MaxNameLen),
		LegalName:          cleanText(&v, "legal_name", f.LegalName, MaxNameLen),
		TaxID:              cleanCode(&v, "tax_id", f.TaxID),
		RegistrationNumber: cleanCode(&v, "registration_number", f.RegistrationNumber),
		LegalAddress:       cleanText(&v, "legal_address", f.LegalAddress, MaxLongText),
		Industry:           cleanText(&v, "industry", f.Industry, MaxTextLen),
		Website:            cleanWebsite(&v, f.Website),
		Phones:             cleanPhones(&v, "phones", f.Phones, s),
		Emails:             cleanEmails(&v, "emails", f.Emails),
		OwnerID:            cleanOwner(&v, f.OwnerID),
		Tags:               cleanTags(&v, f.Tags),
		Custom:             customfield.Clean(&v, s.CompanyFields, prev, f.Custom),
	}
	if n.Name == "" {
		v.Add("name", "a company needs a name")
	}
	if err := v.Err(); err != nil {
		return err
	}
	c.f = n
	return nil
}

// cleanCode checks a registry code (a tax id such as an INN, a registration
// number such as an OGRN): letters, digits and dashes, spaces removed.
func cleanCode(v *apperr.Invalid, field, s string) string {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > 32 {
		v.Add(field, "at most 32 characters")
		return s
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-') {
			v.Add(field, "only letters, digits and dashes")
			break
		}
	}
	return strings.ToUpper(s)
}

// cleanWebsite accepts a host or an http(s) URL and keeps it as an https URL
// when no scheme was written.
func cleanWebsite(v *apperr.Invalid, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(u.Hostname(), ".") || len(s) > MaxLongText {
		v.Add("website", fmt.Sprintf("%q is not a web address", s))
		return s
	}
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

func companyDiff(a, b CompanyFields) []string {
	var changed []string
	add := func(name string, differ bool) {
		if differ {
			changed = append(changed, name)
		}
	}
	add("name", a.Name != b.Name)
	add("legal_name", a.LegalName != b.LegalName)
	add("tax_id", a.TaxID != b.TaxID)
	add("registration_number", a.RegistrationNumber != b.RegistrationNumber)
	add("legal_address", a.LegalAddress != b.LegalAddress)
	add("industry", a.Industry != b.Industry)
	add("website", a.Website != b.Website)
	add("phones", !slices.Equal(a.Phones, b.Phones))
	add("emails", !slices.Equal(a.Emails, b.Emails))
	add("owner_id", a.OwnerID != b.OwnerID)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	add("custom", !reflect.DeepEqual(a.Custom, b.Custom))
	return changed
}

// Fields returns a copy of the client-settable values.
func (c *Company) Fields() CompanyFields {
	f := c.f
	f.Phones, f.Emails, f.Tags = clone(f.Phones), clone(f.Emails), clone(f.Tags)
	f.Custom = maps.Clone(f.Custom)
	return f
}

// Prefixes of company keys.
const (
	companyTaxKey  = "company-tax:"
	companyNameKey = "company-name:"
)

// Key is what tells a company apart from the tenant's others, for a POST, a
// PATCH and an import alike: its tax id when it has one, else its name in
// lower case. Another company holds the key of a tax id when it has that
// tax id, and the key of a name when it has that name, with or without a
// tax id: a company without a tax id is a duplicate of any of that name.
func (c *Company) Key() string {
	if c.f.TaxID != "" {
		return companyTaxKey + c.f.TaxID
	}
	return c.NameKey()
}

// NameKey is the key of the company's name. A write of a company with a
// tax id locks it too, so that a company of that name without one (told
// apart by its name) cannot be written beside it unseen.
func (c *Company) NameKey() string { return companyNameKey + strings.ToLower(c.f.Name) }

// CompanyKeyParts splits company keys into the tax ids and the lower-case
// names they name, as the database looks them up.
func CompanyKeyParts(keys []string) (taxIDs, names []string) {
	for _, k := range keys {
		if t, ok := strings.CutPrefix(k, companyTaxKey); ok {
			taxIDs = append(taxIDs, t)
		} else if n, ok := strings.CutPrefix(k, companyNameKey); ok {
			names = append(names, n)
		}
	}
	return taxIDs, names
}

// CompanyKeysOf are the keys a stored company with taxID and lowerName (its
// name in lower case) holds among keys: see Key.
func CompanyKeysOf(taxID, lowerName string, keys []string) []string {
	var held []string
	for _, k := range keys {
		if (taxID != "" && k == companyTaxKey+taxID) || k == companyNameKey+lowerName {
			held = append(held, k)
		}
	}
	return held
}

func (c *Company) ID() uuid.UUID        { return c.id }
func (c *Company) TenantID() uuid.UUID  { return c.tenantID }
func (c *Company) Version() int64       { return c.version }
func (c *Company) CreatedAt() time.Time { return c.createdAt }
func (c *Company) UpdatedAt() time.Time { return c.updatedAt }

// UnmarshalCompanyFromDatabase rebuilds a stored company; it trusts its input.
func UnmarshalCompanyFromDatabase(id, tenantID uuid.UUID, f CompanyFields, version int64, createdAt, updatedAt time.Time) *Company {
	return &Company{id: id, tenantID: tenantID, f: f, version: version, createdAt: createdAt, updatedAt: updatedAt}
}

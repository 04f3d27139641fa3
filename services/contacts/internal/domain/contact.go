// Package domain holds the contacts service's entities and their invariants.
// No I/O happens here.
package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Limits a contact must respect.
const (
	MaxNameLen   = 200
	MaxEmails    = 20
	MaxPhones    = 20
	MaxTags      = 50
	MaxTagLen    = 64
	MaxOwnerLen  = 200
	MaxEmailLen  = 254
	minPhoneDigs = 5
	maxPhoneDigs = 15
)

// Contact is a person in a tenant's client base.
type Contact struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	firstName string
	lastName  string
	emails    []string
	phones    []string
	ownerID   string
	tags      []string
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// Fields are the values a client may set on a contact.
type Fields struct {
	FirstName string
	LastName  string
	Emails    []string
	Phones    []string
	OwnerID   string
	Tags      []string
}

// NewContact validates fields and creates version 1 of a contact. Every
// broken rule is reported, each under its JSON path.
func NewContact(tenantID uuid.UUID, f Fields, now time.Time) (*Contact, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	c := &Contact{id: id, tenantID: tenantID, version: 1, createdAt: now, updatedAt: now}
	if err := c.set(f); err != nil {
		return nil, err
	}
	return c, nil
}

// Patch holds the fields a partial update changes; nil leaves a field alone.
type Patch struct {
	FirstName *string
	LastName  *string
	Emails    *[]string
	Phones    *[]string
	OwnerID   *string
	Tags      *[]string
}

// Apply changes the contact as the patch says, validating the result, and
// returns the JSON names of the fields whose values changed. The version
// advances only when something changed.
func (c *Contact) Apply(p Patch, now time.Time) ([]string, error) {
	f := c.Fields()
	if p.FirstName != nil {
		f.FirstName = *p.FirstName
	}
	if p.LastName != nil {
		f.LastName = *p.LastName
	}
	if p.Emails != nil {
		f.Emails = *p.Emails
	}
	if p.Phones != nil {
		f.Phones = *p.Phones
	}
	if p.OwnerID != nil {
		f.OwnerID = *p.OwnerID
	}
	if p.Tags != nil {
		f.Tags = *p.Tags
	}
	// Validate a copy so that a refused patch leaves the contact untouched.
	next := *c
	if err := next.set(f); err != nil {
		return nil, err
	}
	changed := diff(c.Fields(), next.Fields())
	if len(changed) > 0 {
		next.version++
		next.updatedAt = stamp(now)
	}
	*c = next
	return changed, nil
}

func (c *Contact) set(f Fields) error {
	var v apperr.Invalid
	c.firstName = cleanName(&v, "first_name", f.FirstName)
	c.lastName = cleanName(&v, "last_name", f.LastName)
	c.emails = cleanEmails(&v, f.Emails)
	c.phones = cleanPhones(&v, f.Phones)
	c.tags = cleanTags(&v, f.Tags)
	c.ownerID = strings.TrimSpace(f.OwnerID)
	switch {
	case c.ownerID == "":
		v.Add("owner_id", "a contact needs an owner")
	case utf8.RuneCountInString(c.ownerID) > MaxOwnerLen:
		v.Add("owner_id", fmt.Sprintf("at most %d characters", MaxOwnerLen))
	}
	if c.firstName == "" && c.lastName == "" && len(c.emails) == 0 && len(c.phones) == 0 {
		v.Add("first_name", "a contact needs a name, an e-mail or a phone")
	}
	return v.Err()
}

// stamp keeps times as PostgreSQL stores them (UTC, microseconds), so the
// answer to a write and a later read show the same instant.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func cleanName(v *apperr.Invalid, field, s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > MaxNameLen {
		v.Add(field, fmt.Sprintf("at most %d characters", MaxNameLen))
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		v.Add(field, "control characters are not allowed")
	}
	return s
}

func cleanEmails(v *apperr.Invalid, in []string) []string {
	if len(in) > MaxEmails {
		v.Add("emails", fmt.Sprintf("at most %d e-mail addresses", MaxEmails))
		return nil
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, raw := range in {
		e, ok := NormalizeEmail(raw)
		if !ok {
			v.Add(fmt.Sprintf("emails/%d", i), fmt.Sprintf("%q is not an e-mail address", raw))
			continue
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// NormalizeEmail trims an address and lowercases its domain; ok is false
// when the input is not a bare addr-spec.
func NormalizeEmail(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > MaxEmailLen {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") {
		return "", false
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:]), true
}

func cleanPhones(v *apperr.Invalid, in []string) []string {
	if len(in) > MaxPhones {
		v.Add("phones", fmt.Sprintf("at most %d phone numbers", MaxPhones))
		return nil
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, raw := range in {
		p, ok := cleanPhone(raw)
		if !ok {
			v.Add(fmt.Sprintf("phones/%d", i), fmt.Sprintf("%q is not a phone number", raw))
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// cleanPhone keeps a phone as written (normalisation to E.164 comes with the
// tenant's default country) but insists on a plausible number of digits and
// only the punctuation people write phones with.
func cleanPhone(raw string) (string, bool) {
	s := strings.Join(strings.Fields(raw), " ")
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case strings.ContainsRune(" -().", r):
		default:
			return "", false
		}
	}
	return s, digits >= minPhoneDigs && digits <= maxPhoneDigs
}

func cleanTags(v *apperr.Invalid, in []string) []string {
	if len(in) > MaxTags {
		v.Add("tags", fmt.Sprintf("at most %d tags", MaxTags))
		return nil
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, raw := range in {
		t := strings.Join(strings.Fields(raw), " ")
		switch n := utf8.RuneCountInString(t); {
		case n == 0:
			v.Add(fmt.Sprintf("tags/%d", i), "a tag cannot be empty")
			continue
		case n > MaxTagLen:
			v.Add(fmt.Sprintf("tags/%d", i), fmt.Sprintf("at most %d characters", MaxTagLen))
			continue
		}
		if k := strings.ToLower(t); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}

func diff(a, b Fields) []string {
	var changed []string
	if a.FirstName != b.FirstName {
		changed = append(changed, "first_name")
	}
	if a.LastName != b.LastName {
		changed = append(changed, "last_name")
	}
	if !equal(a.Emails, b.Emails) {
		changed = append(changed, "emails")
	}
	if !equal(a.Phones, b.Phones) {
		changed = append(changed, "phones")
	}
	if a.OwnerID != b.OwnerID {
		changed = append(changed, "owner_id")
	}
	if !equal(a.Tags, b.Tags) {
		changed = append(changed, "tags")
	}
	return changed
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Fields returns a copy of the client-settable values.
func (c *Contact) Fields() Fields {
	return Fields{FirstName: c.firstName, LastName: c.lastName, Emails: clone(c.emails), Phones: clone(c.phones), OwnerID: c.ownerID, Tags: clone(c.tags)}
}

func clone(s []string) []string { return append([]string{}, s...) }

func (c *Contact) ID() uuid.UUID        { return c.id }
func (c *Contact) TenantID() uuid.UUID  { return c.tenantID }
func (c *Contact) Version() int64       { return c.version }
func (c *Contact) CreatedAt() time.Time { return c.createdAt }
func (c *Contact) UpdatedAt() time.Time { return c.updatedAt }

// UnmarshalContactFromDatabase rebuilds a stored contact. It is not a
// constructor: it trusts its input, which the database got from NewContact.
func UnmarshalContactFromDatabase(id, tenantID uuid.UUID, f Fields, version int64, createdAt, updatedAt time.Time) *Contact {
	return &Contact{id: id, tenantID: tenantID, firstName: f.FirstName, lastName: f.LastName, emails: f.Emails,
		phones: f.Phones, ownerID: f.OwnerID, tags: f.Tags, version: version, createdAt: createdAt, updatedAt: updatedAt}
}

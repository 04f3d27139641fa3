package domain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// ErrContactNotFound answers both a missing contact and another tenant's.
var ErrContactNotFound = apperr.NotFound("contact")

// ErrCompanyNotFound answers both a missing company and another tenant's.
var ErrCompanyNotFound = apperr.NotFound("company")

// ErrUnknownCompany is a company_id that names no company of the tenant.
func ErrUnknownCompany() error {
	var v apperr.Invalid
	v.Add("company_id", "no such company")
	return v.Err()
}

// ErrCompanyHasContacts refuses to delete a company people still work for.
var ErrCompanyHasContacts = apperr.New(apperr.KindConflict, "company-has-contacts",
	"contacts still work for this company; move them to another company or clear their company_id first")

// Duplicate is another contact that shares a channel with the one written.
type Duplicate struct {
	// ID is the other contact, or null when the caller may not see it.
	ID *uuid.UUID `json:"id"`
	// Why names the shared channels, e.g. ["email:anna@example.ru"].
	Why []string `json:"why"`
	// Hidden says the other contact exists but is not visible to the caller.
	Hidden bool `json:"hidden,omitempty"`
}

// ErrDuplicates refuses a write whose e-mails or phones already belong to
// other contacts; the problem lists them so the client can merge or insist
// (allow_duplicate=true).
func ErrDuplicates(dups []Duplicate) error {
	e := apperr.New(apperr.KindConflict, "duplicate-contact",
		"another contact has the same e-mail or phone; merge them, or repeat with ?allow_duplicate=true")
	e.Extensions = map[string]any{"duplicates": dups}
	return e
}

// ErrDuplicateCompanies refuses a company whose key (Company.Key: its tax
// id, or its name without one) other companies of the tenant hold, as an
// import would count it a duplicate; the problem lists them with the keys
// they hold, so the client can use one of them or insist
// (allow_duplicate=true).
func ErrDuplicateCompanies(dups []Duplicate) error {
	e := apperr.New(apperr.KindConflict, "duplicate-company",
		"another company has the same tax id (or, without one, the same name); use it, or repeat with ?allow_duplicate=true")
	e.Extensions = map[string]any{"duplicates": dups}
	return e
}

// GroupDuplicates folds (contact, key) pairs into one Duplicate per contact.
func GroupDuplicates(pairs [][2]string) []Duplicate {
	by := map[uuid.UUID][]string{}
	var order []uuid.UUID
	for _, p := range pairs {
		id, err := uuid.Parse(p[0])
		if err != nil {
			continue
		}
		if _, ok := by[id]; !ok {
			order = append(order, id)
		}
		by[id] = append(by[id], p[1])
	}
	sort.Slice(order, func(i, j int) bool { return strings.Compare(order[i].String(), order[j].String()) < 0 })
	out := make([]Duplicate, 0, len(order))
	for _, id := range order {
		out = append(out, Duplicate{ID: &id, Why: by[id]})
	}
	return out
}

// ErrActivityNotFound answers both a missing activity and another tenant's.
var ErrActivityNotFound = apperr.NotFound("activity")

// ErrContactErased refuses changes to a contact whose personal data was erased.
var ErrContactErased = apperr.New(apperr.KindConflict, "contact-erased",
	"this person's data was erased; the record keeps only its id and cannot be changed")

// ErrFieldNotFound answers both a missing field and another tenant's.
var ErrFieldNotFound = apperr.NotFound("field")

// QuotaExceeded is why a write was refused: the tenant may hold at most
// Quota live contacts, holds Count, and the write would have added Added.
type QuotaExceeded struct {
	Quota, Count, Added int64
}

func (q *QuotaExceeded) Error() string {
	return fmt.Sprintf("contacts quota %d: %d held, %d more refused", q.Quota, q.Count, q.Added)
}

// ErrQuotaExceeded refuses a write that would take the tenant over its
// contacts quota (TenantRecord quotas.contacts): 403 quota-exceeded with
// the quota and the count as members of the problem. errors.As finds the
// *QuotaExceeded in it.
func ErrQuotaExceeded(quota, count, added int64) error {
	msg := fmt.Sprintf("your tenant may hold at most %d contacts; it holds %d", quota, count)
	if added > 1 {
		msg += fmt.Sprintf(", and this would add %d", added)
	}
	return &apperr.Error{Kind: apperr.KindForbidden, Slug: "quota-exceeded", Message: msg,
		Extensions: map[string]any{"quota": quota, "count": count},
		Cause:      &QuotaExceeded{Quota: quota, Count: count, Added: added}}
}

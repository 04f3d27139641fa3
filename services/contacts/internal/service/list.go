package service

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// Sort orders of the contact list. Ids are UUIDv7, so creation order is id
// order.
const (
	SortCreated     = "created_at"
	SortCreatedDesc = "-created_at"
	SortUpdated     = "updated_at"
	SortUpdatedDesc = "-updated_at"
	SortName        = "name"
	SortNameDesc    = "-name"
)

// Sorts lists the orders a contact list can take.
var Sorts = []string{SortCreated, SortCreatedDesc, SortUpdated, SortUpdatedDesc, SortName, SortNameDesc}

// Cursor is the position after the last row of a page: its id and, for
// sorts by a value, that value as text.
type Cursor struct {
	ID    uuid.UUID
	Value string
	Sort  string
}

// ListQuery selects, orders and pages contacts.
type ListQuery struct {
	Limit int
	After Cursor // zero: the first page
	Sort  string // one of Sorts; "" is SortCreated

	// Q is what the user typed into the search box; see domain.SearchTerms.
	Q              string
	CompanyID      uuid.UUID
	OwnerID        string
	Tag            string
	LifecycleStage string
	Source         string
	CreatedFrom    time.Time // inclusive; zero: unbounded
	CreatedTo      time.Time // exclusive
	UpdatedFrom    time.Time
	UpdatedTo      time.Time
	// Custom filters by custom values: key → value as written in the query.
	Custom map[string]string

	// Filled by the service for the repository: who looks (visibility),
	// and the search box read.
	Viewer        domain.Viewer
	SearchKeys    []string
	SearchWords   []string
	CustomFilters [][]byte // jsonb documents the custom column must contain
	// SortPath is the path into custom of a sort by a custom field (the
	// field's key, then "amount" for money); empty for the other sorts.
	SortPath []string
}

// sortByCustom reads a sort "custom.<key>" or "-custom.<key>".
func sortByCustom(sort string) (string, bool) {
	return strings.CutPrefix(strings.TrimPrefix(sort, "-"), "custom.")
}

// Page is one page of a list; Next is nil on the last page.
type Page[T any] struct {
	Items []T
	Next  *Cursor
}

var errCursorSort = func() error {
	var v apperr.Invalid
	v.Add("cursor", "the cursor belongs to another sort order; start again without it")
	return v.Err()
}()

// prepare checks the query and reads the search box with the tenant's settings.
func (q *ListQuery) prepare(s domain.Settings) error {
	q.Limit = clampLimit(q.Limit)
	if q.Sort == "" {
		q.Sort = SortCreated
	}
	var v apperr.Invalid
	valid := false
	for _, s := range Sorts {
		valid = valid || s == q.Sort
	}
	if key, ok := sortByCustom(q.Sort); ok {
		for _, d := range s.ContactFields {
			if d.Key == key {
				valid, q.SortPath = true, []string{key}
				if d.Type == "money" {
					q.SortPath = append(q.SortPath, "amount")
				}
			}
		}
	}
	if !valid {
		v.Add("sort", "one of created_at, -created_at, updated_at, -updated_at, name, -name, or custom.<key> "+
			"(-custom.<key>) of a contact custom field")
	}
	if q.After.ID != uuid.Nil && q.After.Sort != q.Sort {
		return errCursorSort
	}
	if q.After.ID != uuid.Nil && len(q.SortPath) > 0 && q.After.Value != "" && !json.Valid([]byte(q.After.Value)) {
		v.Add("cursor", "not a cursor this service issued")
	}
	if q.After.ID != uuid.Nil && (q.Sort == SortUpdated || q.Sort == SortUpdatedDesc) {
		if _, err := time.Parse(time.RFC3339Nano, q.After.Value); err != nil {
			v.Add("cursor", "not a cursor this service issued")
		}
	}
	if q.LifecycleStage != "" {
		ok := false
		for _, st := range domain.LifecycleStages {
			ok = ok || st == q.LifecycleStage
		}
		if !ok {
			v.Add("lifecycle_stage", "one of lead, prospect, customer, churned, archived")
		}
	}
	q.Tag = strings.ToLower(strings.TrimSpace(q.Tag))
	q.SearchKeys, q.SearchWords = domain.SearchTerms(q.Q, s)
	domain.CheckSearch(&v, q.Q, q.SearchKeys, q.SearchWords)
	if err := v.Err(); err != nil {
		return err
	}
	var err error
	q.CustomFilters, err = customFilters(s.ContactFields, q.Custom)
	return err
}

// cursorOf is the cursor after c in the query's order.
func (q *ListQuery) cursorOf(c *domain.Contact) Cursor {
	cur := Cursor{ID: c.ID(), Sort: q.Sort}
	switch q.Sort {
	case SortUpdated, SortUpdatedDesc:
		cur.Value = c.UpdatedAt().Format(time.RFC3339Nano)
	case SortName, SortNameDesc:
		cur.Value = c.SortName()
	}
	if len(q.SortPath) > 0 {
		// The value as JSON, "" when the contact has none.
		var v any = c.Fields().Custom[q.SortPath[0]]
		if m, ok := v.(map[string]any); ok && len(q.SortPath) > 1 {
			v = m[q.SortPath[1]]
		}
		if v != nil {
			raw, _ := json.Marshal(v)
			cur.Value = string(raw)
		}
	}
	return cur
}

func clampLimit(n int) int {
	if n <= 0 || n > MaxLimit {
		return DefaultLimit
	}
	return n
}

// pageOf cuts a list fetched with one row beyond limit into a page.
func pageOf[T any](items []T, limit int, cursorOf func(T) Cursor) Page[T] {
	if len(items) > limit {
		next := cursorOf(items[limit-1])
		return Page[T]{Items: items[:limit], Next: &next}
	}
	return Page[T]{Items: items}
}

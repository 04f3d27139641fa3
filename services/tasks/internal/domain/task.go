// Package domain holds the tasks service's entities and their rules, free
// of storage and transport.
package domain

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Statuses of a task.
const (
	StatusOpen      = "open"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
)

// Kinds of task every tenant has; a tenant adds its own (Settings.Kinds).
var Kinds = []string{"call", "meeting", "email", "visit", "todo"}

// key is what a tenant's own kind and an outcome's key look like: 1 to 40
// lower-case letters, digits or _, starting with a letter.
var key = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// IsKey reports whether s looks like a kind or an outcome's key.
func IsKey(s string) bool { return key.MatchString(s) }

// Priorities of a task, lowest first.
var Priorities = []string{"low", "normal", "high"}

// ErrTaskNotFound answers a missing task, another tenant's and one the
// caller may not see alike.
var ErrTaskNotFound = apperr.NotFound("task")

// ErrTaskClosed answers a change of a task already done or cancelled.
func ErrTaskClosed(status string) error {
	return apperr.New(apperr.KindConflict, "task-closed", "the task is already "+status+"; plan a new one instead")
}

// Task is a planned next step of its owner. Its fields are private: a task
// is made by NewTask, changed by its methods and rebuilt from storage by
// UnmarshalTaskFromDatabase.
type Task struct {
	id       uuid.UUID
	tenantID uuid.UUID
	f        TaskFields
	status   string
	outcome  string
	result   string
	closedBy string
	closedAt *time.Time
	// chain is the attempt this task is: the one it follows and its number.
	chain Chain
	// clientZone is the client's time zone (the contact's or the deal's
	// contact's), "" when unknown.
	clientZone string
	// remindAt is when the reminder of the current due time is due (nil:
	// none).
	remindAt *time.Time
	version  int64
	created  time.Time
	updated  time.Time
}

// TaskFields are what a client plans.
type TaskFields struct {
	Kind    string
	Subject string
	Note    string
	// DueAt is when it is due; nil for no time. An all-day task has
	// DueDate (YYYY-MM-DD) instead.
	DueAt           *time.Time
	DueDate         string
	DurationMinutes int
	Priority        string
	OwnerID         string
	// Team is whose managers see the task ("" none).
	Team string
	// What the task is about: a deal, a contact, a company (uuid.Nil none).
	DealID, ContactID, CompanyID uuid.UUID
}

// Chain places a task among the attempts at one step: the task it follows
// (uuid.Nil for the first) and its attempt number, from 1.
type Chain struct {
	PreviousID uuid.UUID
	Attempt    int
}

// TaskPatch changes a task's fields; nil members are not given. Giving
// due_at clears due_date and the other way round.
type TaskPatch struct {
	Kind            *string
	Subject         *string
	Note            *string
	DueAt           *DueAt
	DueDate         *string
	DurationMinutes *int
	Priority        *string
	OwnerID         *string
	Team            *string
	// DealID, ContactID and CompanyID link a record, or with uuid.Nil unlink it.
	DealID, ContactID, CompanyID *uuid.UUID
}

// DueAt sets a task's due time, or with None clears it.
type DueAt struct {
	At   time.Time
	None bool
}

// Changed lists the JSON names of the members given.
func (p TaskPatch) Changed() []string {
	var out []string
	add := func(given bool, name string) {
		if given {
			out = append(out, name)
		}
	}
	add(p.Kind != nil, "kind")
	add(p.Subject != nil, "subject")
	add(p.Note != nil, "note")
	add(p.DueAt != nil, "due_at")
	add(p.DueDate != nil, "due_date")
	add(p.DurationMinutes != nil, "duration_minutes")
	add(p.Priority != nil, "priority")
	add(p.OwnerID != nil, "owner_id")
	add(p.Team != nil, "team")
	add(p.DealID != nil, "deal_id")
	add(p.ContactID != nil, "contact_id")
	add(p.CompanyID != nil, "company_id")
	return out
}

const (
	maxSubject = 200
	maxNote    = 5000
	maxName    = 200
)

// NewTask validates a new open task, of one of Kinds or of the tenant's
// own kinds; every broken rule is reported under its JSON name.
func NewTask(tenant uuid.UUID, f TaskFields, now time.Time, kinds ...string) (*Task, error) {
	var v apperr.Invalid
	checkFields(&v, &f, kinds)
	if err := v.Err(); err != nil {
		return nil, err
	}
	id, _ := uuid.NewV7()
	return &Task{id: id, tenantID: tenant, f: f, status: StatusOpen, chain: Chain{Attempt: 1}, version: 1, created: now, updated: now}, nil
}

// Links are the records a task (or a patch of it) names.
func (f TaskFields) Links() Links {
	return Links{Deal: f.DealID, Contact: f.ContactID, Company: f.CompanyID}
}

// Links are the ids of the records a task is about (uuid.Nil none).
type Links struct{ Deal, Contact, Company uuid.UUID }

// Links are the records the patch names anew (uuid.Nil for those it does
// not name or unlinks).
func (p TaskPatch) Links() Links {
	id := func(p *uuid.UUID) uuid.UUID {
		if p == nil {
			return uuid.Nil
		}
		return *p
	}
	return Links{Deal: id(p.DealID), Contact: id(p.ContactID), Company: id(p.CompanyID)}
}

// SetClientZone records the client's time zone ("" unknown).
func (t *Task) SetClientZone(zone string) { t.clientZone = zone }

// checkFields normalises f and reports what breaks the rules; kinds are
// the tenant's own kinds.
func checkFields(v *apperr.Invalid, f *TaskFields, kinds []string) {
	if f.Kind == "" {
		f.Kind = "todo"
	}
	if !slices.Contains(Kinds, f.Kind) && !slices.Contains(kinds, f.Kind) {
		v.Add("kind", "must be one of "+strings.Join(append(slices.Clone(Kinds), kinds...), ", "))
	}
	f.Subject = strings.TrimSpace(f.Subject)
	if f.Subject == "" || utf8.RuneCountInString(f.Subject) > maxSubject {
		v.Add("subject", "must be 1 to 200 characters")
	}
	if utf8.RuneCountInString(f.Note) > maxNote {
		v.Add("note", "must be at most 5000 characters")
	}
	if f.DueAt != nil && f.DueDate != "" {
		v.Add("due_date", "give due_at (a time) or due_date (an all-day task), not both")
	}
	if f.DueAt != nil {
		if y := f.DueAt.Year(); y < 1900 || y > 9999 {
			v.Add("due_at", "must be a time between the years 1900 and 9999")
		}
		at := f.DueAt.UTC().Truncate(time.Microsecond)
		f.DueAt = &at
	}
	if f.DueDate != "" {
		if d, err := time.Parse(time.DateOnly, f.DueDate); err != nil || d.Year() < 1900 {
			v.Add("due_date", "must be a date such as 2027-01-15")
		}
	}
	if f.DurationMinutes < 0 || f.DurationMinutes > 24*60 {
		v.Add("duration_minutes", "must be between 0 and 1440")
	}
	if f.Priority == "" {
		f.Priority = "normal"
	}
	if !slices.Contains(Priorities, f.Priority) {
		v.Add("priority", "must be one of "+strings.Join(Priorities, ", "))
	}
	f.OwnerID = strings.TrimSpace(f.OwnerID)
	if f.OwnerID == "" || utf8.RuneCountInString(f.OwnerID) > maxName {
		v.Add("owner_id", "must be 1 to 200 characters")
	}
	f.Team = strings.TrimSpace(f.Team)
	if utf8.RuneCountInString(f.Team) > maxName {
		v.Add("team", "must be at most 200 characters")
	}
}

// Apply changes an open task as p says, validating the result (kinds: the
// tenant's own). A new owner without a team leaves the old owner's team
// behind.
func (t *Task) Apply(p TaskPatch, kinds ...string) error {
	if t.status != StatusOpen {
		return ErrTaskClosed(t.status)
	}
	f := t.f
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.Kind, p.Kind)
	set(&f.Subject, p.Subject)
	set(&f.Note, p.Note)
	set(&f.Priority, p.Priority)
	if p.DueAt != nil {
		f.DueAt = nil
		if !p.DueAt.None {
			at := p.DueAt.At
			f.DueAt = &at
			if p.DueDate == nil {
				f.DueDate = ""
			}
		}
	}
	if p.DueDate != nil {
		f.DueDate = *p.DueDate
		if *p.DueDate != "" && p.DueAt == nil {
			f.DueAt = nil
		}
	}
	if p.DurationMinutes != nil {
		f.DurationMinutes = *p.DurationMinutes
	}
	if p.OwnerID != nil {
		if strings.TrimSpace(*p.OwnerID) != f.OwnerID && p.Team == nil {
			f.Team = ""
		}
		f.OwnerID = *p.OwnerID
	}
	set(&f.Team, p.Team)
	link := func(dst *uuid.UUID, src *uuid.UUID) {
		if src != nil {
			*dst = *src
		}
	}
	link(&f.DealID, p.DealID)
	link(&f.ContactID, p.ContactID)
	link(&f.CompanyID, p.CompanyID)
	if f.Kind == t.f.Kind {
		kinds = append(kinds, f.Kind) // a kind the tenant dropped stays on its tasks
	}
	var v apperr.Invalid
	checkFields(&v, &f, kinds)
	if err := v.Err(); err != nil {
		return err
	}
	t.f = f
	return nil
}

// Complete closes an open task as done, with the outcome it came to and
// the result in words.
func (t *Task) Complete(outcome, result, by string, now time.Time) error {
	return t.close(StatusDone, outcome, result, by, now)
}

// Cancel closes an open task that will not be done.
func (t *Task) Cancel(result, by string, now time.Time) error {
	return t.close(StatusCancelled, "", result, by, now)
}

func (t *Task) close(status, outcome, result, by string, now time.Time) error {
	if t.status != StatusOpen {
		return ErrTaskClosed(t.status)
	}
	var v apperr.Invalid
	outcome = strings.TrimSpace(outcome)
	if utf8.RuneCountInString(outcome) > maxName {
		v.Add("outcome", "must be at most 200 characters")
	}
	if utf8.RuneCountInString(result) > maxNote {
		v.Add("result", "must be at most 5000 characters")
	}
	if err := v.Err(); err != nil {
		return err
	}
	t.status, t.outcome, t.result, t.closedBy = status, outcome, result, by
	at := now
	t.closedAt = &at
	return nil
}

// FollowUp is the next attempt at t's step, due at at: a new open task
// with t's kind, subject, note, duration, priority, owner, team, links and
// client, following t in its chain.
func (t *Task) FollowUp(at, now time.Time) *Task {
	f := t.f
	due := at.UTC().Truncate(time.Microsecond)
	f.DueAt, f.DueDate = &due, ""
	id, _ := uuid.NewV7()
	return &Task{id: id, tenantID: t.tenantID, f: f, status: StatusOpen, chain: Chain{PreviousID: t.id, Attempt: t.chain.Attempt + 1},
		clientZone: t.clientZone, version: 1, created: now, updated: now}
}

// Follow places t as the next step after prev in its chain: a new step,
// whose attempts count from 1 again.
func (t *Task) Follow(prev *Task) { t.chain = Chain{PreviousID: prev.id, Attempt: 1} }

// PlanReminder sets when the reminder of t's due time is due: lead before
// it, or none when t is not open, has no due time, the tenant reminds
// nobody (lead 0) or that moment has passed.
func (t *Task) PlanReminder(lead time.Duration, now time.Time) {
	t.remindAt = nil
	if t.status != StatusOpen || t.f.DueAt == nil || lead <= 0 {
		return
	}
	if at := t.f.DueAt.Add(-lead); at.After(now) {
		t.remindAt = &at
	}
}

// RemindAt is when the reminder of t's due time is due (nil: none).
func (t *Task) RemindAt() *time.Time { return t.remindAt }

// Advance records a change of the task at now: its next version.
func (t *Task) Advance(now time.Time) {
	t.version++
	t.updated = now
}

// TaskRecord is a task as storage holds it.
type TaskRecord struct {
	ID, TenantID         uuid.UUID
	Fields               TaskFields
	Status               string
	Outcome, Result      string
	ClosedBy             string
	ClosedAt             *time.Time
	Chain                Chain
	ClientTimeZone       string
	RemindAt             *time.Time
	Version              int64
	CreatedAt, UpdatedAt time.Time
}

// UnmarshalTaskFromDatabase rebuilds a stored task; it trusts what storage
// holds, as the task's own rules and the table's constraints checked it.
func UnmarshalTaskFromDatabase(r TaskRecord) *Task {
	return &Task{id: r.ID, tenantID: r.TenantID, f: r.Fields, status: r.Status, outcome: r.Outcome, result: r.Result,
		closedBy: r.ClosedBy, closedAt: r.ClosedAt, chain: r.Chain, clientZone: r.ClientTimeZone, remindAt: r.RemindAt, version: r.Version,
		created: r.CreatedAt, updated: r.UpdatedAt}
}

// Record is the task as storage keeps it.
func (t *Task) Record() TaskRecord {
	return TaskRecord{ID: t.id, TenantID: t.tenantID, Fields: t.f, Status: t.status, Outcome: t.outcome, Result: t.result,
		ClosedBy: t.closedBy, ClosedAt: t.closedAt, Chain: t.chain, ClientTimeZone: t.clientZone, RemindAt: t.remindAt, Version: t.version,
		CreatedAt: t.created, UpdatedAt: t.updated}
}

// The task's fields.
func (t *Task) ID() uuid.UUID        { return t.id }
func (t *Task) TenantID() uuid.UUID  { return t.tenantID }
func (t *Task) Fields() TaskFields   { return t.f }
func (t *Task) Subject() string      { return t.f.Subject }
func (t *Task) Status() string       { return t.status }
func (t *Task) DueAt() *time.Time    { return t.f.DueAt }
func (t *Task) OwnerID() string      { return t.f.OwnerID }
func (t *Task) Team() string         { return t.f.Team }
func (t *Task) Outcome() string      { return t.outcome }
func (t *Task) Result() string       { return t.result }
func (t *Task) ClosedBy() string     { return t.closedBy }
func (t *Task) ClosedAt() *time.Time { return t.closedAt }
func (t *Task) Version() int64       { return t.version }
func (t *Task) Chain() Chain         { return t.chain }
func (t *Task) ClientZone() string   { return t.clientZone }
func (t *Task) CreatedAt() time.Time { return t.created }
func (t *Task) UpdatedAt() time.Time { return t.updated }

// VisibleTo reports whether v may see t: a task has an owner and a team,
// as a deal does.
func (t *Task) VisibleTo(v access.Viewer) bool {
	return v.Sees(access.Record{Owner: t.f.OwnerID, Team: t.f.Team})
}

package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Kinds of interaction an activity records.
var ActivityKinds = []string{"call", "email", "meeting", "visit", "fax", "chat", "sms", "note"}

// Directions of an interaction; a note has none.
var ActivityDirections = []string{"inbound", "outbound"}

// Limits of an activity.
const (
	MaxSubjectLen = 500
	MaxBodyLen    = 20000
	MaxDuration   = 7 * 24 * time.Hour
)

// Activity is one interaction with a client: a call, an e-mail, a meeting,
// a visit, a fax, a chat, an SMS or a note. Activities are facts: they are
// logged and deleted, not edited.
type Activity struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	f         ActivityFields
	createdAt time.Time
}

// ActivityFields are what a client logs.
type ActivityFields struct {
	Kind      string
	Direction string
	Outcome   string
	Duration  time.Duration
	// OccurredAt is when it happened; zero means now.
	OccurredAt time.Time
	Subject    string
	Body       string
	ContactID  uuid.UUID
	CompanyID  uuid.UUID
	DealID     uuid.UUID
	// OwnerID is who had the interaction; the author unless given.
	OwnerID string
}

// NewActivity validates fields and logs an activity.
func NewActivity(tenantID uuid.UUID, f ActivityFields, now time.Time) (*Activity, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now = stamp(now)
	var v apperr.Invalid
	n := ActivityFields{
		Kind:      strings.ToLower(strings.TrimSpace(f.Kind)),
		Direction: strings.ToLower(strings.TrimSpace(f.Direction)),
		Outcome:   cleanText(&v, "outcome", f.Outcome, MaxTextLen),
		Duration:  f.Duration,
		Subject:   cleanText(&v, "subject", f.Subject, MaxSubjectLen),
		Body:      strings.TrimSpace(f.Body),
		ContactID: f.ContactID,
		CompanyID: f.CompanyID,
		DealID:    f.DealID,
		OwnerID:   cleanOwner(&v, f.OwnerID),
	}
	if !oneOf(n.Kind, ActivityKinds) {
		v.Add("kind", "one of "+strings.Join(ActivityKinds, ", "))
	}
	switch {
	case n.Direction == "":
	case n.Kind == "note":
		v.Add("direction", "a note has no direction")
	case !oneOf(n.Direction, ActivityDirections):
		v.Add("direction", "inbound or outbound")
	}
	if n.Duration < 0 || n.Duration > MaxDuration {
		v.Add("duration_seconds", fmt.Sprintf("from 0 to %d", int(MaxDuration.Seconds())))
	}
	if len([]rune(n.Body)) > MaxBodyLen {
		v.Add("body", fmt.Sprintf("at most %d characters", MaxBodyLen))
	}
	if n.ContactID == uuid.Nil && n.CompanyID == uuid.Nil {
		v.Add("contact_id", "an activity concerns a contact, a company or both")
	}
	n.OccurredAt = stamp(f.OccurredAt)
	switch {
	case f.OccurredAt.IsZero():
		n.OccurredAt = now
	case n.OccurredAt.After(now.Add(24 * time.Hour)):
		v.Add("occurred_at", "an activity is logged after it happens (at most a day ahead, for time zones)")
	case n.OccurredAt.Year() < 1970:
		v.Add("occurred_at", "not before 1970")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &Activity{id: id, tenantID: tenantID, f: n, createdAt: now}, nil
}

func (a *Activity) ID() uuid.UUID          { return a.id }
func (a *Activity) TenantID() uuid.UUID    { return a.tenantID }
func (a *Activity) Fields() ActivityFields { return a.f }
func (a *Activity) CreatedAt() time.Time   { return a.createdAt }
func (a *Activity) OccurredAt() time.Time  { return a.f.OccurredAt }
func (a *Activity) ContactID() uuid.UUID   { return a.f.ContactID }

// UnmarshalActivityFromDatabase rebuilds a stored activity; it trusts its input.
func UnmarshalActivityFromDatabase(id, tenantID uuid.UUID, f ActivityFields, createdAt time.Time) *Activity {
	return &Activity{id: id, tenantID: tenantID, f: f, createdAt: createdAt}
}

package domain

import (
	"time"

	"github.com/google/uuid"
)

// TimelineEntry is one thing that happened to a contact: a change of its
// record, an activity, or what another service published about it (a deal
// moved, a task done, an invoice paid).
type TimelineEntry struct {
	ID        uuid.UUID // the event's or the activity's id
	ContactID uuid.UUID
	At        time.Time
	Type      string // e.g. crm.contact.updated, crm.activity.logged, crm.deal.won
	Source    string // the publishing service, e.g. /rapport/sales
	Actor     string
	Data      map[string]any
}

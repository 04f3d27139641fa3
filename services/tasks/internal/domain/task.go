// Package domain holds the tasks service's entities and their rules, free
// of storage and transport.
package domain

import (
	"time"

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

// ErrTaskNotFound answers a missing task, another tenant's and one the
// caller may not see alike.
var ErrTaskNotFound = apperr.NotFound("task")

// Task is a planned next step of its owner.
type Task struct {
	id        uuid.UUID
	subject   string
	status    string
	dueAt     *time.Time
	ownerID   string
	team      string
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// TaskRecord is a task as storage holds it.
type TaskRecord struct {
	ID                   uuid.UUID
	Subject, Status      string
	DueAt                *time.Time
	OwnerID, Team        string
	Version              int64
	CreatedAt, UpdatedAt time.Time
}

// UnmarshalTaskFromDatabase rebuilds a stored task; it trusts what storage
// holds, as the constraints of the table already checked it.
func UnmarshalTaskFromDatabase(r TaskRecord) *Task {
	return &Task{id: r.ID, subject: r.Subject, status: r.Status, dueAt: r.DueAt, ownerID: r.OwnerID, team: r.Team,
		version: r.Version, createdAt: r.CreatedAt, updatedAt: r.UpdatedAt}
}

func (t *Task) ID() uuid.UUID        { return t.id }
func (t *Task) Subject() string      { return t.subject }
func (t *Task) Status() string       { return t.status }
func (t *Task) DueAt() *time.Time    { return t.dueAt }
func (t *Task) OwnerID() string      { return t.ownerID }
func (t *Task) Team() string         { return t.team }
func (t *Task) Version() int64       { return t.version }
func (t *Task) CreatedAt() time.Time { return t.createdAt }
func (t *Task) UpdatedAt() time.Time { return t.updatedAt }

// VisibleTo reports whether v may see t: a task has an owner and a team,
// as a deal does.
func (t *Task) VisibleTo(v access.Viewer) bool {
	return v.Sees(access.Record{Owner: t.ownerID, Team: t.team})
}

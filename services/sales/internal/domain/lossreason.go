package domain

import (
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// LossReason says why deals are lost ("too expensive"); an archived one
// stays on the deals lost for it but is offered no more. Its fields are
// private: a reason is made by NewLossReason and rebuilt from storage by
// UnmarshalLossReasonFromDatabase.
type LossReason struct {
	id       uuid.UUID
	name     string
	position int
	archived bool
	version  int64
	created  time.Time
	updated  time.Time
}

// NewLossReason validates a new loss reason.
func NewLossReason(name string, position int, now time.Time) (*LossReason, error) {
	var v apperr.Invalid
	n := checkName(&v, "name", name)
	if err := v.Err(); err != nil {
		return nil, err
	}
	id, _ := uuid.NewV7()
	return &LossReason{id: id, name: n, position: position, version: 1, created: now, updated: now}, nil
}

// UnmarshalLossReasonFromDatabase rebuilds a stored loss reason.
func UnmarshalLossReasonFromDatabase(id uuid.UUID, name string, position int, archived bool, version int64, createdAt, updatedAt time.Time) *LossReason {
	return &LossReason{id: id, name: name, position: position, archived: archived, version: version, created: createdAt, updated: updatedAt}
}

// The reason's fields.
func (r *LossReason) ID() uuid.UUID        { return r.id }
func (r *LossReason) Name() string         { return r.name }
func (r *LossReason) Position() int        { return r.position }
func (r *LossReason) Archived() bool       { return r.archived }
func (r *LossReason) Version() int64       { return r.version }
func (r *LossReason) CreatedAt() time.Time { return r.created }
func (r *LossReason) UpdatedAt() time.Time { return r.updated }

// Archive archives the reason (or, with false, offers it again).
func (r *LossReason) Archive(archived bool) { r.archived = archived }

// Advance records a change of the reason at now: its next version.
func (r *LossReason) Advance(now time.Time) {
	r.version++
	r.updated = now
}

// Rename changes the reason's name.
func (r *LossReason) Rename(name string) error {
	var v apperr.Invalid
	n := checkName(&v, "name", name)
	if err := v.Err(); err != nil {
		return err
	}
	r.name = n
	return nil
}

// DefaultLossReasons are a new tenant's loss reasons in its language.
func DefaultLossReasons(locale string) []string {
	if isRussian(locale) {
		return []string{"Дорого", "Выбрали конкурента", "Нет бюджета", "Нет потребности", "Не удалось связаться"}
	}
	return []string{"Too expensive", "Chose a competitor", "No budget", "No need", "Could not reach"}
}

// UnreachedReason is the loss reason of a deal whose client was never
// reached (its call attempts exhausted): one of the defaults.
func UnreachedReason(locale string) string {
	reasons := DefaultLossReasons(locale)
	return reasons[len(reasons)-1]
}

// DefaultBaseCurrency is the base currency of a tenant whose record names none.
func DefaultBaseCurrency(locale string) string {
	if isRussian(locale) {
		return "RUB"
	}
	return "USD"
}

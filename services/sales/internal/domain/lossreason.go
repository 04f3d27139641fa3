package domain

import (
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// LossReason says why deals are lost ("too expensive"); an archived one
// stays on the deals lost for it but is offered no more.
type LossReason struct {
	ID        uuid.UUID
	Name      string
	Position  int
	Archived  bool
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewLossReason validates a new loss reason.
func NewLossReason(name string, position int, now time.Time) (*LossReason, error) {
	var v apperr.Invalid
	n := checkName(&v, "name", name)
	if err := v.Err(); err != nil {
		return nil, err
	}
	id, _ := uuid.NewV7()
	return &LossReason{ID: id, Name: n, Position: position, Version: 1, CreatedAt: now, UpdatedAt: now}, nil
}

// Rename changes the reason's name.
func (r *LossReason) Rename(name string) error {
	var v apperr.Invalid
	n := checkName(&v, "name", name)
	if err := v.Err(); err != nil {
		return err
	}
	r.Name = n
	return nil
}

// DefaultLossReasons are a new tenant's loss reasons in its language.
func DefaultLossReasons(locale string) []string {
	if isRussian(locale) {
		return []string{"Дорого", "Выбрали конкурента", "Нет бюджета", "Нет потребности", "Не удалось связаться"}
	}
	return []string{"Too expensive", "Chose a competitor", "No budget", "No need", "Could not reach"}
}

// DefaultBaseCurrency is the base currency of a tenant whose record names none.
func DefaultBaseCurrency(locale string) string {
	if isRussian(locale) {
		return "RUB"
	}
	return "USD"
}

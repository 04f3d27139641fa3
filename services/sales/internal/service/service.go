// Package service holds the sales use cases. It knows who asks (the
// principal from the verified token), what they may do and see, and which
// events a change publishes; storage is behind the repositories of Stores.
package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// Settings are a tenant's defaults from its record.
type Settings struct {
	Locale       string
	BaseCurrency string
}

// SettingsFunc returns a tenant's settings.
type SettingsFunc func(tenant uuid.UUID) Settings

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// BoardDeals is how many deals a board column shows by default.
	BoardDeals    = 20
	MaxBoardDeals = 100
)

// Service is the sales use cases.
type Service struct {
	db Stores
	// contacts is nil when the contacts service's URL is not configured:
	// then only the projection vouches for contacts, and quick deals fail.
	contacts Contacts
	settings SettingsFunc
	now      func() time.Time
	log      *slog.Logger
}

// New returns the service over its repositories and the contacts service's API.
func New(db Stores, contacts Contacts, settings SettingsFunc, log *slog.Logger) *Service {
	return &Service{db: db, contacts: contacts, settings: settings, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

func (s *Service) settingsOf(tenant uuid.UUID) Settings {
	st := s.settings(tenant)
	if st.BaseCurrency == "" {
		st.BaseCurrency = domain.DefaultBaseCurrency(st.Locale)
	}
	return st
}

var (
	errReadOnly = apperr.New(apperr.KindForbidden, "read-only-role", "your role may read deals but not change them")
	errNotAdmin = apperr.New(apperr.KindForbidden, "admin-only", "only admins and managers may change pipelines, loss reasons and currency rates")
)

// writer is a principal that may change records (auth.Writer).
func writer(ctx context.Context) (auth.Principal, error) { return auth.Writer(ctx, errReadOnly) }

// configurer is a principal that may change the tenant's sales setup.
func configurer(ctx context.Context) (auth.Principal, error) {
	return auth.Configurer(ctx, errNotAdmin)
}

// seesDeal reports whether v may see d: a deal has an owner and a team, and
// no shares.
func seesDeal(v Viewer, d *domain.Deal) bool {
	return v.Sees(access.Record{Owner: d.OwnerID(), Team: d.Team()})
}

package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// LossReasons lists the tenant's loss reasons; archived ones only when asked.
func (s *Service) LossReasons(ctx context.Context, archived bool) ([]*domain.LossReason, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.db.LossReasons.LossReasons(ctx, p.TenantID)
	var out []*domain.LossReason
	for _, lr := range all {
		if archived || !lr.Archived() {
			out = append(out, lr)
		}
	}
	return out, err
}

// GetLossReason returns one loss reason.
func (s *Service) GetLossReason(ctx context.Context, id uuid.UUID) (*domain.LossReason, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.LossReasons.LossReason(ctx, p.TenantID, id)
}

// AddLossReason adds a loss reason after the others.
func (s *Service) AddLossReason(ctx context.Context, name string) (*domain.LossReason, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.LossReasons.AddLossReason(ctx, p.TenantID, func(count int) (*domain.LossReason, error) {
		return domain.NewLossReason(name, count, s.now())
	})
}

// ChangeLossReason renames a loss reason or (un)archives it. Deals lost for
// an archived reason keep it; new losses may not name it.
func (s *Service) ChangeLossReason(ctx context.Context, id uuid.UUID, ifMatch access.IfMatch, name *string, archived *bool) (*domain.LossReason, error) {
	p, err := configurer(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.LossReasons.UpdateLossReason(ctx, p.TenantID, id, func(lr *domain.LossReason) error {
		if err := ifMatch.Check(lr.Version()); err != nil {
			return err
		}
		if name != nil {
			if err := lr.Rename(*name); err != nil {
				return err
			}
		}
		if archived != nil {
			lr.Archive(*archived)
		}
		lr.Advance(s.now())
		return nil
	})
}

// Rates lists the tenant's currency rates.
func (s *Service) Rates(ctx context.Context) (string, []CurrencyRate, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return "", nil, err
	}
	out, err := s.db.Rates.Rates(ctx, p.TenantID)
	return s.settingsOf(p.TenantID).BaseCurrency, out, err
}

// SetRate records how many units of the base currency one unit of currency costs.
func (s *Service) SetRate(ctx context.Context, currency, rate string) (string, CurrencyRate, error) {
	p, err := configurer(ctx)
	if err != nil {
		return "", CurrencyRate{}, err
	}
	settings := s.settingsOf(p.TenantID)
	base := settings.BaseCurrency
	var v apperr.Invalid
	cur, ok := domain.ParseCurrency(currency)
	if !ok {
		v.Add("currency", "must be an ISO 4217 currency code such as USD or EUR")
	} else if cur == base {
		v.Add("currency", "is the base currency "+base+", whose rate is always 1")
	}
	r := domain.CheckRate(&v, rate, base, settings.Locale)
	if err := v.Err(); err != nil {
		return base, CurrencyRate{}, err
	}
	cr := CurrencyRate{Currency: cur, Rate: r, UpdatedAt: s.now(), UpdatedBy: p.UserID}
	return base, cr, s.db.Rates.SetRate(ctx, p.TenantID, cr)
}

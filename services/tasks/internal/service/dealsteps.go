package service

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	salesv1 "github.com/rapportcrm/rapport/pkg/gen/crm/sales/v1"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// SetLocales tells the service each tenant's locale (its record's), in
// which the tasks it plans itself are worded.
func (s *Service) SetLocales(localeOf func(tenant uuid.UUID) string) { s.localeOf = localeOf }

// words are the tasks service's own words, in Russian and English.
var words = map[string][2]string{
	"first":   {"Связаться по сделке: ", "First contact: "},
	"reopen":  {"Возобновить работу по сделке: ", "Resume the deal: "},
	"repeat":  {"Повторная продажа: ", "Repeat sale: "},
	"won":     {"Сделка выиграна", "The deal was won"},
	"lost":    {"Сделка проиграна", "The deal was lost"},
	"deleted": {"Сделка удалена", "The deal was deleted"},
}

func (s *Service) say(tenant uuid.UUID, what string) string {
	if s.localeOf != nil && strings.HasPrefix(strings.ToLower(s.localeOf(tenant)), "ru") {
		return words[what][0]
	}
	return words[what][1]
}

// followDeal keeps the next-step discipline as deals change, in the
// consumer's transaction: a new (or reopened) deal gets a first task for
// its owner, due within the tenant's first-response time inside working
// hours and the client's call window, unless it has one; a deal won, lost
// or deleted has its open tasks cancelled, and a won one gets a repeat-sale
// task after the tenant's days (when it sets them).
func (s *Service) followDeal(ctx context.Context, r Projection, e events.Event, m aboutDeal) error {
	d := m.GetDeal()
	deal := parseID(d.GetId())
	actor := actorOf(m)
	switch e.Type {
	case catalog.DealCreated, catalog.DealReopened:
		status, others, err := r.Deal(ctx, deal, uuid.Nil)
		if err != nil || status != "open" || others > 0 {
			return err
		}
		what := "first"
		if e.Type == catalog.DealReopened {
			what = "reopen"
		}
		return s.planForDeal(ctx, r, e.TenantID, d, actor, what, func(pc PlanContext) time.Duration { return pc.Settings.FirstResponse }, e.Time)
	case catalog.DealWon, catalog.DealLost, catalog.DealDeleted:
		if _, _, err := r.Deal(ctx, deal, uuid.Nil); err != nil {
			return err
		}
		open, err := r.OpenTasksOfDeal(ctx, deal)
		if err != nil {
			return err
		}
		why := map[string]string{catalog.DealWon: "won", catalog.DealLost: "lost", catalog.DealDeleted: "deleted"}[e.Type]
		now := s.now()
		for _, t := range open {
			if err := t.Cancel(s.say(e.TenantID, why), actor, now); err != nil {
				return err
			}
			t.Advance(now)
			evs, err := taskEvents(TypeTaskCancelled, t, actor)
			if err != nil {
				return err
			}
			if err := r.Publish(ctx, evs...); err != nil {
				return err
			}
		}
		if err := r.Save(ctx, nil, open); err != nil {
			return err
		}
		if e.Type != catalog.DealWon {
			return nil
		}
		return s.planForDeal(ctx, r, e.TenantID, d, actor, "repeat", func(pc PlanContext) time.Duration {
			return time.Duration(pc.Settings.RepeatSaleDays) * 24 * time.Hour
		}, e.Time)
	}
	return nil
}

func actorOf(m aboutDeal) string {
	if a, ok := m.(interface{ GetActorId() string }); ok {
		return a.GetActorId()
	}
	return ""
}

// planForDeal plans a call of the deal's owner about it, after the delay
// the settings give from since (none when the delay is 0 or discipline is
// off), inside the owner's hours and the client's call window.
func (s *Service) planForDeal(ctx context.Context, r Projection, tenant uuid.UUID, d *salesv1.Deal, actor, what string,
	delay func(PlanContext) time.Duration, since time.Time) error {
	pc, err := r.Planning(ctx, d.GetOwnerId())
	if err != nil {
		return err
	}
	after := delay(pc)
	if after <= 0 || pc.Settings.Discipline == domain.DisciplineOff || d.GetOwnerId() == "" {
		return nil
	}
	subject := []rune(s.say(tenant, what) + d.GetTitle())
	if len(subject) > 200 {
		subject = subject[:200]
	}
	now := s.now()
	contact := parseID(d.GetContactId())
	t, err := domain.NewTask(tenant, domain.TaskFields{Kind: "call", Subject: string(subject), OwnerID: d.GetOwnerId(), Team: d.GetTeam(),
		DealID: parseID(d.GetId()), ContactID: contact, CompanyID: parseID(d.GetCompanyId())}, now)
	if err != nil {
		return err
	}
	if contact != uuid.Nil {
		zone, err := r.ContactZone(ctx, contact)
		if err != nil {
			return err
		}
		t.SetClientZone(zone)
	}
	at, err := s.automatic(t, pc, since.Add(after))
	if err != nil {
		at = since.Add(after) // calendars that never meet: the plain time, rather than no step
	}
	if err := t.Apply(domain.TaskPatch{DueAt: &domain.DueAt{At: at}}); err != nil {
		return err
	}
	t.PlanReminder(pc.Settings.ReminderLead, now)
	evs, err := taskEvents(TypeTaskCreated, t, actor)
	if err != nil {
		return err
	}
	if err := r.Save(ctx, []*domain.Task{t}, nil); err != nil {
		return err
	}
	return r.Publish(ctx, evs...)
}

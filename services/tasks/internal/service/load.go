package service

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// HourLoad is one hour of a user's day: how many open tasks are due in it,
// and whether it is a working hour.
type HourLoad struct {
	Start   time.Time
	Tasks   int
	Working bool
}

// Load is a user's tasks per hour against their capacity (0: no limit).
type Load struct {
	UserID   string
	TimeZone string
	Capacity int
	Hours    []HourLoad
}

// maxLoadSpan bounds a load's range: a month of hours.
const maxLoadSpan = 31 * 24 * time.Hour

// Load counts user's (by default the caller's) open tasks per hour from
// from to to, every working hour of their calendar listed and any other
// hour that has tasks; only the tasks the caller may see count (a rep
// asking for another's load sees their hours, empty).
func (s *Service) Load(ctx context.Context, user string, from, to time.Time) (Load, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Load{}, err
	}
	if user == "" {
		user = p.UserID
	}
	var v apperr.Invalid
	if !to.After(from) || to.Sub(from) > maxLoadSpan {
		v.Add("to", "must be after from, at most 31 days on")
	}
	if err := v.Err(); err != nil {
		return Load{}, err
	}
	pc, err := s.config.Planning(ctx, p.TenantID, "", user)
	if err != nil {
		return Load{}, err
	}
	cal := pc.calendarOf(user)
	counts, err := s.tasks.HourLoad(ctx, p.TenantID, p.Viewer(), user, cal.Location().String(), from, to, uuid.Nil)
	if err != nil {
		return Load{}, err
	}
	out := Load{UserID: user, TimeZone: cal.Location().String(), Capacity: cal.Capacity()}
	seen := map[time.Time]bool{}
	for h := hourOf(from, cal); h.Before(to); h = h.Add(time.Hour) {
		if cal.Works(h) {
			out.Hours = append(out.Hours, HourLoad{Start: h, Tasks: counts[h], Working: true})
			seen[h] = true
		}
	}
	for h, n := range counts {
		if !seen[h] {
			out.Hours = append(out.Hours, HourLoad{Start: h, Tasks: n})
		}
	}
	sort.Slice(out.Hours, func(i, j int) bool { return out.Hours[i].Start.Before(out.Hours[j].Start) })
	return out, nil
}

// hourOf is the start of the hour (on cal's clock) at or after t.
func hourOf(t time.Time, cal *domain.Calendar) time.Time {
	l := t.In(cal.Location())
	h := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, cal.Location())
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h.UTC()
}

// maxSlots bounds a slots answer, and slotHorizon how far it looks.
const (
	maxSlots    = 20
	slotHorizon = 14 * 24 * time.Hour
)

// Slots are user's next count working hours from from with room for a
// task (every working hour when their capacity is unlimited).
func (s *Service) Slots(ctx context.Context, user string, from time.Time, count int) (Load, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Load{}, err
	}
	if user == "" {
		user = p.UserID
	}
	if count < 1 || count > maxSlots {
		return Load{}, apperr.Field("count", "must be a whole number from 1 to 20")
	}
	pc, err := s.config.Planning(ctx, p.TenantID, "", user)
	if err != nil {
		return Load{}, err
	}
	return s.freeHours(ctx, p.TenantID, p.Viewer(), user, pc.calendarOf(user), from, count, uuid.Nil)
}

// freeHours are the next count working hours of user's calendar from from
// with room for a task (except left out of the counts).
func (s *Service) freeHours(ctx context.Context, tenant uuid.UUID, v access.Viewer, user string, cal *domain.Calendar, from time.Time, count int, except uuid.UUID) (Load, error) {
	out := Load{UserID: user, TimeZone: cal.Location().String(), Capacity: cal.Capacity()}
	counts, err := s.tasks.HourLoad(ctx, tenant, v, user, cal.Location().String(), from, from.Add(slotHorizon), except)
	if err != nil {
		return Load{}, err
	}
	for h := hourOf(from, cal); len(out.Hours) < count && h.Before(from.Add(slotHorizon)); h = h.Add(time.Hour) {
		if cal.Works(h) && (cal.Capacity() == 0 || counts[h] < cal.Capacity()) {
			out.Hours = append(out.Hours, HourLoad{Start: h, Tasks: counts[h], Working: true})
		}
	}
	return out, nil
}

// checkCapacity refuses a task due in an hour of its owner's calendar
// that already holds the owner's capacity, naming the nearest free hours.
func (s *Service) checkCapacity(ctx context.Context, tenant uuid.UUID, t *domain.Task, cal *domain.Calendar) error {
	at := t.DueAt()
	if at == nil || cal == nil || cal.Capacity() == 0 {
		return nil
	}
	l := at.In(cal.Location())
	hour := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, cal.Location()).UTC()
	everyone := access.Viewer{All: true} // an hour is full whoever sees its tasks
	counts, err := s.tasks.HourLoad(ctx, tenant, everyone, t.OwnerID(), cal.Location().String(), hour, hour.Add(time.Hour), t.ID())
	if err != nil || counts[hour] < cal.Capacity() {
		return err
	}
	free, err := s.freeHours(ctx, tenant, everyone, t.OwnerID(), cal, hour, 3, t.ID())
	if err != nil {
		return err
	}
	slots := make([]time.Time, 0, len(free.Hours))
	for _, h := range free.Hours {
		slots = append(slots, h.Start)
	}
	e := apperr.New(apperr.KindConflict, "hour-full", "the owner's hour is full: "+strconv.Itoa(cal.Capacity())+" tasks already; plan it into a free hour")
	e.Extensions = map[string]any{"free_slots": slots}
	return e
}

// claimFor is how long a task served as the next stays the claimer's.
const claimFor = 2 * time.Minute

// Next serves the caller their most urgent open task now, and claims it
// for two minutes for the device asking (device: any name the client
// keeps, "" one default device): overdue tasks first, then those due by
// the end of the caller's day, each by priority and due time, skipping
// tasks whose client is outside the tenant's call window now. Asked again
// by the same device, it serves the same task until it is closed; another
// device, or a request at the same moment, is served another. nil: none.
func (s *Service) Next(ctx context.Context, device string) (*domain.Task, time.Time, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(device) > 100 {
		return nil, time.Time{}, apperr.Field("device", "must be at most 100 characters")
	}
	pc, err := s.config.Planning(ctx, p.TenantID, "", p.UserID)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := s.now()
	loc := pc.calendarOf(p.UserID).Location()
	l := now.In(loc)
	endOfDay := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
	windows := map[string]*domain.Calendar{}
	callable := func(t *domain.Task) bool {
		zone := t.ClientZone()
		if zone == "" {
			return true
		}
		w, ok := windows[zone]
		if !ok {
			w, _ = domain.CallWindow(zone, pc.Settings.CallWindow)
			windows[zone] = w
		}
		return w == nil || w.Works(now)
	}
	until := now.Add(claimFor)
	t, err := s.tasks.ClaimNext(ctx, p.TenantID, p.UserID, p.UserID+"/"+device, now, endOfDay, until, callable)
	return t, until, err
}

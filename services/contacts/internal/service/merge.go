package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// Event types of merges.
const (
	TypeMerged   = catalog.ContactMerged
	TypeUnmerged = catalog.ContactUnmerged
)

// MergeRepository finds likely duplicates and folds contacts into others,
// with the transaction rules of Repository.
type MergeRepository interface {
	// MergedRecords returns the records merged into contact target (and,
	// along chains, into those), as they were stored for an unmerge: each
	// {"contact_id", "merged_at", "record"}, oldest first.
	MergedRecords(ctx context.Context, tenantID, target uuid.UUID) ([]json.RawMessage, error)
	// DuplicatePairs returns up to limit likely duplicate pairs after
	// q.After, both of whose contacts q.Viewer sees, in list order: the
	// pairs that share a channel (by the first channel they share), then
	// those of similar names at one company (by company and name key).
	DuplicatePairs(ctx context.Context, tenantID uuid.UUID, q PairQuery, limit int) ([]FoundPair, error)
	// Merge locks the target and the sources (in id order), lets fn check
	// them and change the target, and stores the result in one
	// transaction: each source is recorded as it is, with what it gave the
	// target, hands its activities and timeline entries over to the target,
	// and is deleted with its channel keys; the target is stored with its
	// keys, its events and its timeline. A missing target fails with
	// domain.ErrContactNotFound, a missing source with
	// domain.ErrContactMissing(id).
	Merge(ctx context.Context, tenantID, target uuid.UUID, sources []uuid.UUID, fn func(target *domain.Contact, sources []*domain.Contact) (MergeChange, error)) (*domain.Contact, error)
	// Unmerge locks the target and reads what is merged into it (oldest
	// first), lets fn pick the contacts to restore and change the target,
	// and stores the result in one transaction: each picked contact is
	// inserted back as it was recorded, with its channel keys, and takes
	// back its activities and timeline entries; the target is stored with
	// its keys, events and timeline. It returns the target and the
	// restored contacts. Restored contacts count as live again: with
	// contactsQuota above 0, an unmerge that would leave the tenant with
	// more fails with domain.ErrQuotaExceeded.
	Unmerge(ctx context.Context, tenantID, target uuid.UUID, contactsQuota int64, fn func(target *domain.Contact, merged []MergedContact) (UnmergeChange, error)) (*domain.Contact, []*domain.Contact, error)
	// MergedInto follows the merges of id to the contact that holds its data
	// now; uuid.Nil when id was not merged.
	MergedInto(ctx context.Context, tenantID, id uuid.UUID) (uuid.UUID, error)
}

// Merges are the use cases of duplicate contacts.
type Merges interface {
	// DuplicatePairs pages through likely duplicates; MergeContacts folds
	// contacts into a target and UnmergeContacts undoes it.
	DuplicatePairs(ctx context.Context, q PairQuery) (PairPage, error)
	MergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, from []uuid.UUID) (*domain.Contact, error)
	UnmergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, only []uuid.UUID) (*domain.Contact, []*domain.Contact, error)
}

// MergeChange is what a merge does, as the service decided it.
type MergeChange struct {
	// Contributions[i] is what the i-th source (in the order asked) gave.
	Contributions []domain.Contribution
	// Events are the target's; MergeID is the merge event's id.
	Events  []events.Event
	MergeID uuid.UUID
	At      time.Time
	Actor   string
}

// MergedContact is a contact merged into another, as it was then, with
// what it gave the target.
type MergedContact struct {
	domain.Merged
	MergedAt time.Time
}

// UnmergeChange is what an unmerge does: the contacts to restore, the
// target's events, and the new contributions of contacts that stay merged
// (domain.PlanUnmerge).
type UnmergeChange struct {
	Restore       []uuid.UUID
	Events        []events.Event
	Contributions map[uuid.UUID]domain.Contribution
}

// Streams of the duplicate list: pairs that share a channel come first.
const (
	StreamChannel = "channel"
	StreamName    = "name"
)

// PairQuery pages through the likely duplicates.
type PairQuery struct {
	Limit  int
	After  PairCursor    // zero: the first page
	Viewer domain.Viewer // filled by the service
}

// PairCursor is the position after a pair: its stream, the group it was
// found in (the channel key, or "<company id> <name key>") and its ids.
type PairCursor struct {
	Stream string
	Group  string
	A, B   uuid.UUID
}

// FoundPair is a pair with its position in the list.
type FoundPair struct {
	Pair domain.Pair
	At   PairCursor
}

// PairPage is one page of the duplicate list; Next is nil on the last page.
type PairPage struct {
	Items []domain.Pair
	Next  *PairCursor
}

var errPairCursor = func() error {
	var v apperr.Invalid
	v.Add("cursor", "not a cursor of the duplicate list; start again without it")
	return v.Err()
}()

// DuplicatePairs pages through likely duplicates: contacts that share a
// normalised e-mail or phone, or have similar names (Cyrillic or Latin, in
// any order) at the same company. Each pair shows once, with every reason
// and a score (domain.Pair.Score), and only when the caller sees both.
func (s *Service) DuplicatePairs(ctx context.Context, q PairQuery) (PairPage, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return PairPage{}, err
	}
	q.Limit = clampLimit(q.Limit)
	switch c := q.After; {
	case c == (PairCursor{}):
	case c.Stream != StreamChannel && c.Stream != StreamName, c.Group == "", c.A == uuid.Nil, c.B == uuid.Nil:
		return PairPage{}, errPairCursor
	case c.Stream == StreamName:
		// A name group is "<company id> <name key>".
		if company, _, _ := strings.Cut(c.Group, " "); uuid.Validate(company) != nil {
			return PairPage{}, errPairCursor
		}
	}
	q.Viewer = p.Viewer()
	found, err := s.repo.DuplicatePairs(ctx, p.TenantID, q, q.Limit+1)
	if err != nil {
		return PairPage{}, err
	}
	page := PairPage{Items: make([]domain.Pair, 0, min(len(found), q.Limit))}
	for i, f := range found {
		if i == q.Limit {
			next := found[i-1].At
			page.Next = &next
			break
		}
		page.Items = append(page.Items, f.Pair)
	}
	return page, nil
}

// MergeContacts folds the contacts from into target (see domain.PlanMerge):
// the target keeps every channel, tag, custom value, activity and timeline
// entry of theirs, wins every conflict and has its blanks filled; the
// merged contacts are gone (their ids answer 404 with merged_into) until
// UnmergeContacts restores them. The caller must be allowed to change
// every contact involved; ifMatch must hold for the target's version.
func (s *Service) MergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, from []uuid.UUID) (*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkIDList("from", target, from, 1, domain.MaxMerge, "a contact cannot be merged into itself"); err != nil {
		return nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c, err := s.repo.Merge(ctx, p.TenantID, target, from, func(t *domain.Contact, sources []*domain.Contact) (MergeChange, error) {
		if err := visible(p, t); err != nil {
			return MergeChange{}, err
		}
		for _, src := range sources {
			if visible(p, src) != nil {
				return MergeChange{}, domain.ErrContactMissing(src.ID())
			}
		}
		if err := ifMatch.Check(t.Version()); err != nil {
			return MergeChange{}, err
		}
		for _, c := range append([]*domain.Contact{t}, sources...) {
			if c.Erased() {
				return MergeChange{}, domain.ErrContactErased
			}
		}
		patch, contribs := domain.PlanMerge(t, sources, settings.ContactFields)
		changed, err := t.Apply(patch, withSourcesOf(settings, sources), now)
		if err != nil {
			return MergeChange{}, err
		}
		var evs []events.Event
		if len(changed) > 0 {
			if evs, err = messages.ContactUpdated(t, p.UserID, changed); err != nil {
				return MergeChange{}, err
			}
		}
		merged, err := contactMerged(t, sources, p.UserID, now)
		if err != nil {
			return MergeChange{}, err
		}
		return MergeChange{Contributions: contribs, Events: append(evs, merged...), MergeID: merged[0].ID, At: now, Actor: p.UserID}, nil
	})
	if err != nil {
		return nil, s.explainMissing(ctx, p, target, err)
	}
	return c, nil
}

// UnmergeContacts undoes merges into target: the contacts named in only
// (every contact merged into it when only is empty) are restored as they
// were, with their channels, activities and timeline entries, and the
// target loses what came from them alone, keeping what changed since (see
// domain.PlanUnmerge). It returns the target and the restored contacts.
// The restored contacts count against the tenant's contacts quota again.
func (s *Service) UnmergeContacts(ctx context.Context, target uuid.UUID, ifMatch access.IfMatch, only []uuid.UUID) (*domain.Contact, []*domain.Contact, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := checkIDList("contacts", target, only, 0, domain.MaxMerge, "was not merged into this contact"); err != nil {
		return nil, nil, err
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	t, restored, err := s.repo.Unmerge(ctx, p.TenantID, target, settings.ContactsQuota, func(t *domain.Contact, merged []MergedContact) (UnmergeChange, error) {
		if err := visible(p, t); err != nil {
			return UnmergeChange{}, err
		}
		if err := ifMatch.Check(t.Version()); err != nil {
			return UnmergeChange{}, err
		}
		if len(merged) == 0 {
			return UnmergeChange{}, domain.ErrNothingMerged
		}
		picked, staying, err := pickUnmerged(merged, only)
		if err != nil {
			return UnmergeChange{}, err
		}
		var undone []domain.Contribution
		var back []*domain.Contact
		var ids []uuid.UUID
		for _, m := range picked {
			if visible(p, m.Contact) != nil {
				if len(only) > 0 {
					return UnmergeChange{}, domain.ErrContactMissing(m.Contact.ID())
				}
				return UnmergeChange{}, domain.ErrUnmergeForbidden
			}
			undone, back, ids = append(undone, m.Contribution), append(back, m.Contact), append(ids, m.Contact.ID())
		}
		patch, kept := domain.PlanUnmerge(t, undone, staying)
		stay := make([]*domain.Contact, len(staying))
		for i, m := range staying {
			stay[i] = m.Contact
		}
		changed, err := t.Apply(patch, withSourcesOf(settings, stay), now)
		if err != nil {
			return UnmergeChange{}, err
		}
		contribs := make(map[uuid.UUID]domain.Contribution, len(staying))
		for i, s := range staying {
			contribs[s.Contact.ID()] = kept[i]
		}
		var evs []events.Event
		if len(changed) > 0 {
			if evs, err = messages.ContactUpdated(t, p.UserID, changed); err != nil {
				return UnmergeChange{}, err
			}
		}
		unmerged, err := contactUnmerged(t, back, p.UserID, now)
		if err != nil {
			return UnmergeChange{}, err
		}
		return UnmergeChange{Restore: ids, Events: append(evs, unmerged...), Contributions: contribs}, nil
	})
	if err != nil {
		var elsewhere *notMergedHere
		if errors.As(err, &elsewhere) {
			// One merged into another contact answers as its id does on
			// every route: that contact is where to unmerge it.
			for _, id := range elsewhere.ids {
				if into := s.mergedTarget(ctx, p, id); into != uuid.Nil && into != target {
					return nil, nil, domain.ErrContactMerged(id, into)
				}
			}
		}
		return nil, nil, s.mergedInto(ctx, p, target, err)
	}
	return t, restored, nil
}

// notMergedHere refuses contacts an unmerge names that were not merged into
// its target (ids); err is the field error a client reads.
type notMergedHere struct {
	err error
	ids []uuid.UUID
}

func (e *notMergedHere) Error() string { return e.err.Error() }
func (e *notMergedHere) Unwrap() error { return e.err }

// pickUnmerged splits what is merged into a target into the contacts to
// restore (those of only, or all) and those that stay merged (in merge order).
func pickUnmerged(merged []MergedContact, only []uuid.UUID) (picked []MergedContact, staying []domain.Merged, err error) {
	if len(only) == 0 {
		return merged, nil, nil
	}
	want := make(map[uuid.UUID]bool, len(only))
	for _, id := range only {
		want[id] = true
	}
	for _, m := range merged {
		if want[m.Contact.ID()] {
			picked = append(picked, m)
			delete(want, m.Contact.ID())
		} else {
			staying = append(staying, m.Merged)
		}
	}
	var v apperr.Invalid
	var ids []uuid.UUID
	for i, id := range only {
		if want[id] {
			v.Add(fmt.Sprintf("contacts/%d", i), "was not merged into this contact")
			ids = append(ids, id)
		}
	}
	if err := v.Err(); err != nil {
		return nil, nil, &notMergedHere{err: err, ids: ids}
	}
	return picked, staying, nil
}

// checkIDList checks a list of contact ids that goes with target: between
// lo and hi ids, none twice, not target itself.
func checkIDList(field string, target uuid.UUID, ids []uuid.UUID, lo, hi int, self string) error {
	var v apperr.Invalid
	if len(ids) < lo || len(ids) > hi {
		v.Add(field, fmt.Sprintf("name %d to %d contacts", max(lo, 1), hi))
		return v.Err()
	}
	seen := make(map[uuid.UUID]bool, len(ids))
	for i, id := range ids {
		switch {
		case id == target:
			v.Add(fmt.Sprintf("%s/%d", field, i), self)
		case seen[id]:
			v.Add(fmt.Sprintf("%s/%d", field, i), "named twice")
		}
		seen[id] = true
	}
	return v.Err()
}

// explainMissing says which contact of a merge was missing: the target or
// one of the sources, pointing at the contact it was merged into if it was.
func (s *Service) explainMissing(ctx context.Context, p auth.Principal, target uuid.UUID, err error) error {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindNotFound {
		if id, ok := e.Extensions["id"].(uuid.UUID); ok {
			if into := s.mergedTarget(ctx, p, id); into != uuid.Nil {
				return domain.ErrContactMerged(id, into)
			}
			return err
		}
	}
	return s.mergedInto(ctx, p, target, err)
}

// mergedInto turns the 404 of a contact that was merged into another into
// one that names the contact holding its data now (merged_into), when the
// caller sees that one.
func (s *Service) mergedInto(ctx context.Context, p auth.Principal, id uuid.UUID, err error) error {
	if !errors.Is(err, domain.ErrContactNotFound) {
		return err
	}
	if into := s.mergedTarget(ctx, p, id); into != uuid.Nil {
		return domain.ErrContactMerged(id, into)
	}
	return err
}

// mergedTarget is the contact id was merged into, if p sees it; else uuid.Nil.
func (s *Service) mergedTarget(ctx context.Context, p auth.Principal, id uuid.UUID) uuid.UUID {
	into, err := s.repo.MergedInto(ctx, p.TenantID, id)
	if err != nil || into == uuid.Nil {
		return uuid.Nil
	}
	if c, err := s.repo.Get(ctx, p.TenantID, into); err != nil || visible(p, c) != nil {
		return uuid.Nil
	}
	return into
}

func contactMerged(t *domain.Contact, sources []*domain.Contact, actor string, at time.Time) ([]events.Event, error) {
	ids := make([]string, len(sources))
	for i, s := range sources {
		ids[i] = s.ID().String()
	}
	return messages.Event(TypeMerged, t.TenantID(), t.ID(), &contactsv1.ContactMerged{TenantId: t.TenantID().String(),
		TargetId: t.ID().String(), MergedIds: ids, Target: messages.Contact(t), ActorId: actor, MergedAt: timestamppb.New(at)})
}

func contactUnmerged(t *domain.Contact, restored []*domain.Contact, actor string, at time.Time) ([]events.Event, error) {
	msgs := make([]*contactsv1.Contact, len(restored))
	for i, c := range restored {
		msgs[i] = messages.Contact(c)
	}
	return messages.Event(TypeUnmerged, t.TenantID(), t.ID(), &contactsv1.ContactUnmerged{TenantId: t.TenantID().String(),
		TargetId: t.ID().String(), Restored: msgs, Target: messages.Contact(t), ActorId: actor, UnmergedAt: timestamppb.New(at)})
}

// mergeTimeline files a merge, or its undoing, in the target's timeline,
// naming the contacts merged or restored.
func mergeTimeline(e events.Event) (TimelineChange, error) {
	var target, actor, member string
	var ids []string
	switch e.Type {
	case TypeMerged:
		var m contactsv1.ContactMerged
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		target, actor, member, ids = m.GetTargetId(), m.GetActorId(), "merged", m.GetMergedIds()
	case TypeUnmerged:
		var m contactsv1.ContactUnmerged
		if err := e.Unmarshal(&m); err != nil {
			return TimelineChange{}, err
		}
		target, actor, member = m.GetTargetId(), m.GetActorId(), "restored"
		for _, c := range m.GetRestored() {
			ids = append(ids, c.GetId())
		}
	}
	id, err := uuid.Parse(target)
	if err != nil {
		return TimelineChange{}, nil
	}
	return TimelineChange{Add: []domain.TimelineEntry{{ID: e.ID, ContactID: id, At: e.Time, Type: e.Type, Source: e.Source,
		Actor: actor, Data: map[string]any{member: ids}}}}, nil
}

// withSourcesOf is settings that also accept, as a contact's source, the
// sources contacts already have: a merge or unmerge moves a source the
// tenant may since have dropped from its lead sources, and must not fail
// for it.
func withSourcesOf(settings domain.Settings, contacts []*domain.Contact) domain.Settings {
	if len(settings.LeadSources) == 0 {
		return settings
	}
	settings.LeadSources = slices.Clone(settings.LeadSources)
	for _, c := range contacts {
		if src := c.Fields().Source; src != "" {
			settings.LeadSources = append(settings.LeadSources, src)
		}
	}
	return settings
}

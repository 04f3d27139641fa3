package domain

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// MaxMerge is how many contacts one merge folds into its target.
const MaxMerge = 20

// Contribution is what one merged contact gave its target: the values the
// target lacked. Unmerging the contact takes them back out of the target.
type Contribution struct {
	Emails, Phones, Tags             []string
	SharedWithUsers, SharedWithTeams []string
	// Filled holds the blanks of the target it filled: FirstName, LastName,
	// Position, Source, Timezone (only a given one; a derived zone follows
	// the phones), Birthday, Team, CompanyID and Address; the rest is zero.
	Filled Fields
	// Custom are the custom values of keys the target had none for.
	Custom map[string]any
}

// PlanMerge folds sources into c. The target wins every conflict: a value it
// has stays. Its blanks are filled from the first source (in the order
// given) that has a value; it gains every e-mail, phone, tag and share of
// the sources, and their owners as shared users, so that whoever owned a
// merged record keeps seeing the client. Custom values fill the keys it has
// none for, for fields of defs (the tenant's contact fields) only. It
// returns the patch that does so (to Apply, which validates the result) and
// what each source contributed, in the order of sources.
func PlanMerge(c *Contact, sources []*Contact, defs []FieldDef) (Patch, []Contribution) {
	t := c.Fields()
	defined := make(map[string]bool, len(defs))
	for _, d := range defs {
		defined[d.Key] = true
	}
	var p Patch
	emails, phones, tags := t.Emails, t.Phones, t.Tags
	users, teams := t.SharedWithUsers, t.SharedWithTeams
	custom := map[string]any{}
	contribs := make([]Contribution, len(sources))
	for i, src := range sources {
		s := src.Fields()
		g := &contribs[i]
		emails, g.Emails = union(emails, s.Emails)
		phones, g.Phones = union(phones, s.Phones)
		tags, g.Tags = union(tags, s.Tags)
		owner := []string{}
		if s.OwnerID != t.OwnerID {
			owner = []string{s.OwnerID}
		}
		users, g.SharedWithUsers = union(users, append(owner, s.SharedWithUsers...))
		teams, g.SharedWithTeams = union(teams, s.SharedWithTeams)
		fill := func(dst **string, have, give string, into *string) {
			if have == "" && *dst == nil && give != "" {
				*dst, *into = &give, give
			}
		}
		fill(&p.FirstName, t.FirstName, s.FirstName, &g.Filled.FirstName)
		fill(&p.LastName, t.LastName, s.LastName, &g.Filled.LastName)
		fill(&p.Position, t.Position, s.Position, &g.Filled.Position)
		fill(&p.Source, t.Source, s.Source, &g.Filled.Source)
		fill(&p.Birthday, t.Birthday, s.Birthday, &g.Filled.Birthday)
		fill(&p.Team, t.Team, s.Team, &g.Filled.Team)
		if !src.TimezoneDerived() {
			fill(&p.Timezone, t.Timezone, s.Timezone, &g.Filled.Timezone)
		}
		if t.CompanyID == uuid.Nil && p.CompanyID == nil && s.CompanyID != uuid.Nil {
			id := s.CompanyID
			p.CompanyID, g.Filled.CompanyID = &id, id
		}
		if t.Address.IsZero() && p.Address == nil && !s.Address.IsZero() {
			a := s.Address
			p.Address, g.Filled.Address = &a, a
		}
		for k, v := range s.Custom {
			if _, has := t.Custom[k]; has || !defined[k] {
				continue
			}
			if _, taken := custom[k]; taken {
				continue
			}
			custom[k] = v
			if g.Custom == nil {
				g.Custom = map[string]any{}
			}
			g.Custom[k] = v
		}
	}
	setList(&p.Emails, t.Emails, emails)
	setList(&p.Phones, t.Phones, phones)
	setList(&p.Tags, t.Tags, tags)
	if len(users) != len(t.SharedWithUsers) || len(teams) != len(t.SharedWithTeams) {
		p.SharedWithUsers, p.SharedWithTeams = &users, &teams
	}
	if len(custom) > 0 {
		p.Custom = custom
	}
	return p, contribs
}

// Merged is a contact merged into another, as it was then, and what it gave.
type Merged struct {
	Contact      *Contact
	Contribution Contribution
}

// PlanUnmerge takes back from c what the undone contributions gave it and
// keeps what changed since: a channel, tag or share goes only while c still
// has it, and a filled blank is cleared only while it still holds the value
// the merge gave it. What a contact that stays merged holds stays, and a
// blank it can fill is filled from it (the first of staying, in merge
// order), as if it had been merged alone; such a value becomes that
// contact's contribution, so that unmerging it later takes the value back.
// It returns the patch and the staying contacts' contributions, updated.
func PlanUnmerge(c *Contact, undone []Contribution, staying []Merged) (Patch, []Contribution) {
	t := c.Fields()
	kept := make([]Contribution, len(staying))
	for i, s := range staying {
		kept[i] = s.Contribution
		kept[i].Custom = maps.Clone(s.Contribution.Custom)
	}
	var p Patch
	// A list keeps its values that no undone contact gave; of the others,
	// those a staying contact holds too, which become its contribution.
	list := func(dst **[]string, have []string, gave func(Contribution) []string, holds func(Fields) []string, into func(*Contribution) *[]string) []string {
		var gone []string
		for _, u := range undone {
			gone = append(gone, gave(u)...)
		}
		next := make([]string, 0, len(have))
		for _, v := range have {
			if !containsFold(gone, v) {
				next = append(next, v)
				continue
			}
			for i, s := range staying {
				if containsFold(holds(s.Contact.Fields()), v) {
					next = append(next, v)
					if l := into(&kept[i]); !containsFold(*l, v) {
						*l = append(*l, v)
					}
					break
				}
			}
		}
		if dst != nil {
			setList(dst, have, next)
		}
		return next
	}
	list(&p.Emails, t.Emails, func(g Contribution) []string { return g.Emails },
		func(f Fields) []string { return f.Emails }, func(g *Contribution) *[]string { return &g.Emails })
	list(&p.Phones, t.Phones, func(g Contribution) []string { return g.Phones },
		func(f Fields) []string { return f.Phones }, func(g *Contribution) *[]string { return &g.Phones })
	list(&p.Tags, t.Tags, func(g Contribution) []string { return g.Tags },
		func(f Fields) []string { return f.Tags }, func(g *Contribution) *[]string { return &g.Tags })
	users := list(nil, t.SharedWithUsers, func(g Contribution) []string { return g.SharedWithUsers },
		func(f Fields) []string { return append([]string{f.OwnerID}, f.SharedWithUsers...) },
		func(g *Contribution) *[]string { return &g.SharedWithUsers })
	teams := list(nil, t.SharedWithTeams, func(g Contribution) []string { return g.SharedWithTeams },
		func(f Fields) []string { return f.SharedWithTeams }, func(g *Contribution) *[]string { return &g.SharedWithTeams })
	if len(users) != len(t.SharedWithUsers) || len(teams) != len(t.SharedWithTeams) {
		p.SharedWithUsers, p.SharedWithTeams = &users, &teams
	}
	// A filled blank still holding the value given goes, or takes the
	// value of the first staying contact that has one.
	field := func(dst **string, have string, gave func(Fields) string, of func(*Contact) string, into func(*Fields) *string) {
		for _, u := range undone {
			if g := gave(u.Filled); g == "" || have != g || *dst != nil {
				continue
			}
			v := ""
			for i, s := range staying {
				if v = of(s.Contact); v != "" {
					*into(&kept[i].Filled) = v
					break
				}
			}
			*dst = &v
		}
	}
	field(&p.FirstName, t.FirstName, func(f Fields) string { return f.FirstName },
		func(x *Contact) string { return x.f.FirstName }, func(f *Fields) *string { return &f.FirstName })
	field(&p.LastName, t.LastName, func(f Fields) string { return f.LastName },
		func(x *Contact) string { return x.f.LastName }, func(f *Fields) *string { return &f.LastName })
	field(&p.Position, t.Position, func(f Fields) string { return f.Position },
		func(x *Contact) string { return x.f.Position }, func(f *Fields) *string { return &f.Position })
	field(&p.Source, t.Source, func(f Fields) string { return f.Source },
		func(x *Contact) string { return x.f.Source }, func(f *Fields) *string { return &f.Source })
	field(&p.Birthday, t.Birthday, func(f Fields) string { return f.Birthday },
		func(x *Contact) string { return x.f.Birthday }, func(f *Fields) *string { return &f.Birthday })
	field(&p.Team, t.Team, func(f Fields) string { return f.Team },
		func(x *Contact) string { return x.f.Team }, func(f *Fields) *string { return &f.Team })
	// Only a given zone was carried over; a derived one follows the phones.
	field(&p.Timezone, t.Timezone, func(f Fields) string { return f.Timezone }, func(x *Contact) string {
		if x.tzDerived {
			return ""
		}
		return x.f.Timezone
	}, func(f *Fields) *string { return &f.Timezone })
	for _, u := range undone {
		if id := u.Filled.CompanyID; id != uuid.Nil && t.CompanyID == id && p.CompanyID == nil {
			next := uuid.Nil
			for i, s := range staying {
				if next = s.Contact.f.CompanyID; next != uuid.Nil {
					kept[i].Filled.CompanyID = next
					break
				}
			}
			p.CompanyID = &next
		}
		if a := u.Filled.Address; !a.IsZero() && t.Address == a && p.Address == nil {
			next := Address{}
			for i, s := range staying {
				if next = s.Contact.f.Address; !next.IsZero() {
					kept[i].Filled.Address = next
					break
				}
			}
			p.Address = &next
		}
		for k, v := range u.Custom {
			if have, ok := t.Custom[k]; !ok || !sameValue(have, v) {
				continue
			}
			if p.Custom == nil {
				p.Custom = map[string]any{}
			}
			p.Custom[k] = nil
			for i, s := range staying {
				if sv, ok := s.Contact.f.Custom[k]; ok {
					p.Custom[k] = sv
					if kept[i].Custom == nil {
						kept[i].Custom = map[string]any{}
					}
					kept[i].Custom[k] = sv
					break
				}
			}
		}
	}
	return p, kept
}

// sameValue compares custom values as stored (JSON numbers, strings, lists).
func sameValue(a, b any) bool { return reflect.DeepEqual(a, b) }

// union appends to have the values of give it lacks (compared without
// case), and returns the result and the values added.
func union(have, give []string) (all, added []string) {
	all = slices.Clone(have)
	for _, v := range give {
		if !containsFold(all, v) {
			all = append(all, v)
			added = append(added, v)
		}
	}
	return all, added
}

func containsFold(list []string, v string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
}

// setList sets *dst to next when it differs from have.
func setList(dst **[]string, have, next []string) {
	if !slices.Equal(have, next) {
		*dst = &next
	}
}

// ErrContactMissing is the 404 of one contact among several named (a merge
// names its sources): it says which.
func ErrContactMissing(id uuid.UUID) error {
	e := apperr.New(apperr.KindNotFound, "not-found", "contact "+id.String()+" not found")
	e.Extensions = map[string]any{"id": id}
	return e
}

// ErrContactMerged answers a contact that was merged into another: it is
// gone, and merged_into names the contact that holds its data now.
func ErrContactMerged(id, into uuid.UUID) error {
	e := apperr.New(apperr.KindNotFound, "contact-merged",
		"contact "+id.String()+" was merged into contact "+into.String()+"; use that one")
	e.Extensions = map[string]any{"id": id, "merged_into": into}
	return e
}

// ErrNothingMerged refuses to unmerge a contact nothing is merged into.
var ErrNothingMerged = apperr.New(apperr.KindConflict, "nothing-merged", "no contact is merged into this one")

// ErrUnmergeForbidden refuses an unmerge that would restore contacts the
// caller may not see (and so may not change).
var ErrUnmergeForbidden = apperr.New(apperr.KindForbidden, "unmerge-forbidden",
	"some contacts merged into this one are not visible to you; name the ones to restore in contacts")

package domain_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func mustContact(t *testing.T, f domain.Fields, s domain.Settings) *domain.Contact {
	t.Helper()
	if f.OwnerID == "" {
		f.OwnerID = "u1"
	}
	c, err := domain.NewContact(uuid.New(), f, s, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanMerge(t *testing.T) {
	company := uuid.New()
	s := domain.Settings{DefaultCountry: "RU", ContactFields: []domain.FieldDef{
		{Key: "segment", Type: "text"}, {Key: "region", Type: "text"}}}
	target := mustContact(t, domain.Fields{FirstName: "Анна", Emails: []string{"anna@example.ru"}, Tags: []string{"vip"},
		Custom: map[string]any{"segment": "b2b"}}, s)
	s1 := mustContact(t, domain.Fields{FirstName: "Anna", LastName: "Ivanova", Emails: []string{"ANNA@example.ru", "a@corp.ru"},
		Tags: []string{"vip", "moscow"}, Position: "CFO", CompanyID: company, OwnerID: "rep-x",
		Custom: map[string]any{"segment": "b2c", "region": "msk", "gone": "x"}, Phones: []string{"+7 495 123-45-67"}},
		// "gone" is a field the tenant has deleted since.
		domain.Settings{DefaultCountry: "RU", ContactFields: append(s.ContactFields, domain.FieldDef{Key: "gone", Type: "text"})})
	s2 := mustContact(t, domain.Fields{LastName: "Petrova", Position: "CEO", Tags: []string{"partner"}, Timezone: "Asia/Tokyo",
		SharedWithTeams: []string{"south"}}, s)

	p, contribs := domain.PlanMerge(target, []*domain.Contact{s1, s2}, s.ContactFields)
	changed, err := target.Apply(p, s, now)
	if err != nil {
		t.Fatal(err)
	}
	f := target.Fields()
	for _, c := range []struct{ what, have, want string }{
		{"emails", fmt.Sprint(f.Emails), "[anna@example.ru a@corp.ru]"},
		{"tags", fmt.Sprint(f.Tags), "[vip moscow partner]"},
		{"first name (the target's wins)", f.FirstName, "Анна"},
		{"last name (the first source's)", f.LastName, "Ivanova"},
		{"position (the first source's)", f.Position, "CFO"},
		{"company", f.CompanyID.String(), company.String()},
		{"custom (the target's wins, fields of the tenant only)", fmt.Sprint(f.Custom), "map[region:msk segment:b2b]"},
		{"time zone (a given one only)", f.Timezone, "Asia/Tokyo"},
		{"shares (the sources' owners)", fmt.Sprint(f.SharedWithUsers, f.SharedWithTeams), "[rep-x] [south]"},
		{"changed", fmt.Sprint(changed), "[last_name emails phones tags company_id position timezone shared_with custom]"},
		{"s1 gave", fmt.Sprintf("%v %v %q %q %v", contribs[0].Emails, contribs[0].Tags, contribs[0].Filled.LastName, contribs[0].Filled.Position, contribs[0].Custom),
			`[a@corp.ru] [moscow] "Ivanova" "CFO" map[region:msk]`},
		{"s2 gave", fmt.Sprintf("%v %q %q %q", contribs[1].Tags, contribs[1].Filled.LastName, contribs[1].Filled.Position, contribs[1].Filled.Timezone),
			`[partner] "" "" "Asia/Tokyo"`},
	} {
		if c.have != c.want {
			t.Errorf("%s: have %q, want %q", c.what, c.have, c.want)
		}
	}

	// Unmerging s1 alone takes back what came from s1 only, keeps a later
	// edit, and fills what s1 filled from s2 that stays merged.
	if _, err := target.Apply(domain.Patch{Tags: &[]string{"vip", "moscow", "partner", "later"}}, s, now); err != nil {
		t.Fatal(err)
	}
	p, kept := domain.PlanUnmerge(target, contribs[:1], []domain.Merged{{Contact: s2, Contribution: contribs[1]}})
	if _, err := target.Apply(p, s, now); err != nil {
		t.Fatal(err)
	}
	// What stays because s2 holds it is s2's to take back now.
	if g := kept[0]; g.Filled.LastName != "Petrova" || g.Filled.Position != "CEO" || g.Filled.Timezone != "Asia/Tokyo" {
		t.Fatalf("s2's contribution: %+v", g)
	}
	f = target.Fields()
	for _, c := range []struct{ what, have, want string }{
		{"emails", fmt.Sprint(f.Emails), "[anna@example.ru]"},
		{"tags", fmt.Sprint(f.Tags), "[vip partner later]"},
		{"last name (s2's now)", f.LastName, "Petrova"},
		{"position (s2's now)", f.Position, "CEO"},
		{"company", f.CompanyID.String(), uuid.Nil.String()},
		{"custom", fmt.Sprint(f.Custom), "map[segment:b2b]"},
		{"shares", fmt.Sprint(f.SharedWithUsers, f.SharedWithTeams), "[] [south]"},
		{"time zone (s2's)", f.Timezone, "Asia/Tokyo"},
	} {
		if c.have != c.want {
			t.Errorf("after unmerging s1, %s: have %q, want %q", c.what, c.have, c.want)
		}
	}
	// Unmerging s2 too leaves the target as it was, but for its later edit.
	p, _ = domain.PlanUnmerge(target, kept, nil)
	if _, err := target.Apply(p, s, now); err != nil {
		t.Fatal(err)
	}
	f = target.Fields()
	if f.LastName != "" || f.Position != "" || f.Timezone != "" || len(f.SharedWithTeams) != 0 || !slices.Equal(f.Tags, []string{"vip", "later"}) {
		t.Fatalf("after unmerging both: %+v", f)
	}
}

// A value the target changed since the merge is the target's: unmerge
// leaves it.
func TestPlanUnmergeKeepsLaterEdits(t *testing.T) {
	target := mustContact(t, domain.Fields{FirstName: "A"}, ru)
	src := mustContact(t, domain.Fields{FirstName: "B", Position: "CFO", Emails: []string{"b@x.ru"}}, ru)
	p, contribs := domain.PlanMerge(target, []*domain.Contact{src}, nil)
	if _, err := target.Apply(p, ru, now); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Apply(domain.Patch{Position: ptr("CEO"), Emails: &[]string{}}, ru, now); err != nil {
		t.Fatal(err)
	}
	if p, _ := domain.PlanUnmerge(target, contribs, nil); p.Position != nil || p.Emails != nil {
		t.Fatalf("unmerge undoes later edits: %+v", p)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPairScore(t *testing.T) {
	email, phone, name := domain.ReasonOfKey("email:a@x.ru"), domain.ReasonOfKey("phone:+79120000000"), domain.Reason{Kind: domain.ReasonName}
	if email.Kind != domain.ReasonEmail || email.Value != "a@x.ru" || phone.Value != "+79120000000" {
		t.Fatalf("reasons %+v %+v", email, phone)
	}
	for _, tc := range []struct {
		reasons []domain.Reason
		want    float64
	}{
		{[]domain.Reason{email}, 0.9},
		{[]domain.Reason{phone}, 0.8},
		{[]domain.Reason{name}, 0.6},
		{[]domain.Reason{email, name}, 0.96},
		{[]domain.Reason{email, phone}, 0.98},
		{[]domain.Reason{email, phone, name}, 0.992},
		{nil, 0},
	} {
		if have := (domain.Pair{Reasons: tc.reasons}).Score(); have != tc.want {
			t.Errorf("%v: have %v, want %v", tc.reasons, have, tc.want)
		}
	}
}

func TestPairsOf(t *testing.T) {
	ids := []uuid.UUID{uuid.MustParse("00000000-0000-0000-0000-000000000001"), uuid.MustParse("00000000-0000-0000-0000-000000000002"),
		uuid.MustParse("00000000-0000-0000-0000-000000000003")}
	collect := func(a, b uuid.UUID, max int) string {
		var out []string
		domain.PairsOf(ids, a, b, func(x, y uuid.UUID) bool {
			out = append(out, fmt.Sprintf("%d%d", x[15], y[15]))
			return len(out) < max
		})
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		a, b uuid.UUID
		max  int
		want string
	}{
		{uuid.Nil, uuid.Nil, 10, "[12 13 23]"},
		{ids[0], ids[1], 10, "[13 23]"},
		{ids[0], ids[2], 10, "[23]"},
		{ids[1], ids[2], 10, "[]"},
		{uuid.Nil, uuid.Nil, 2, "[12 13]"},
	} {
		if have := collect(tc.a, tc.b, tc.max); have != tc.want {
			t.Errorf("after %v %v: have %s, want %s", tc.a, tc.b, have, tc.want)
		}
	}
}

// A value two merged contacts share stays while one of them is merged, and
// goes with the last of them.
func TestPlanUnmergeHandsSharedValuesOver(t *testing.T) {
	target := mustContact(t, domain.Fields{FirstName: "T"}, ru)
	s1 := mustContact(t, domain.Fields{FirstName: "A", Emails: []string{"same@x.ru"}, Tags: []string{"x"}}, ru)
	s2 := mustContact(t, domain.Fields{FirstName: "B", Emails: []string{"same@x.ru"}, Tags: []string{"x"}}, ru)
	p, contribs := domain.PlanMerge(target, []*domain.Contact{s1, s2}, nil)
	if _, err := target.Apply(p, ru, now); err != nil {
		t.Fatal(err)
	}
	if len(contribs[1].Emails) != 0 {
		t.Fatalf("s1 gave the e-mail first: %+v", contribs)
	}
	p, kept := domain.PlanUnmerge(target, contribs[:1], []domain.Merged{{Contact: s2, Contribution: contribs[1]}})
	if _, err := target.Apply(p, ru, now); err != nil {
		t.Fatal(err)
	}
	if f := target.Fields(); !slices.Equal(f.Emails, []string{"same@x.ru"}) || !slices.Equal(kept[0].Emails, []string{"same@x.ru"}) {
		t.Fatalf("s2 holds the e-mail now: %v %+v", f.Emails, kept[0])
	}
	p, _ = domain.PlanUnmerge(target, kept, nil)
	if _, err := target.Apply(p, ru, now); err != nil {
		t.Fatal(err)
	}
	if f := target.Fields(); len(f.Emails) != 0 || len(f.Tags) != 0 {
		t.Fatalf("the last unmerge takes the shared values: %+v", f)
	}
}

package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

var (
	now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ru  = domain.Settings{DefaultCountry: "RU"}
)

func fieldsOf(err error) []string {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestNewContactValidatesEveryField(t *testing.T) {
	long := strings.Repeat("я", domain.MaxNameLen+1)
	for name, tc := range map[string]struct {
		in   domain.Fields
		want []string
	}{
		"valid":                          {domain.Fields{FirstName: "Анна", Emails: []string{"anna@Example.RU"}, OwnerID: "u1"}, nil},
		"no name, no channel":            {domain.Fields{OwnerID: "u1"}, []string{"first_name"}},
		"bad e-mail and phone":           {domain.Fields{FirstName: "A", Emails: []string{"ok@x.io", "nope"}, Phones: []string{"+7 (912) 000-00-00", "call me"}, OwnerID: "u1"}, []string{"emails/1", "phones/1"}},
		"display name is not an address": {domain.Fields{FirstName: "A", Emails: []string{"Anna <a@x.io>"}, OwnerID: "u1"}, []string{"emails/0"}},
		"long name":                      {domain.Fields{FirstName: long, OwnerID: "u1"}, []string{"first_name"}},
		"empty tag":                      {domain.Fields{FirstName: "A", Tags: []string{"vip", " "}, OwnerID: "u1"}, []string{"tags/1"}},
		"no owner":                       {domain.Fields{FirstName: "A"}, []string{"owner_id"}},
		"too few digits":                 {domain.Fields{FirstName: "A", Phones: []string{"12"}, OwnerID: "u1"}, []string{"phones/0"}},
		"no such number":                 {domain.Fields{FirstName: "A", Phones: []string{"+7 000 000-00-00"}, OwnerID: "u1"}, []string{"phones/0"}},
		"unknown stage and zone":         {domain.Fields{FirstName: "A", LifecycleStage: "friend", Timezone: "Mars/Olympus", OwnerID: "u1"}, []string{"lifecycle_stage", "timezone"}},
		"bad birthday and country":       {domain.Fields{FirstName: "A", Birthday: "31.12.1990", Address: domain.Address{Country: "XX"}, OwnerID: "u1"}, []string{"address/country", "birthday"}},
		"birthday in the future":         {domain.Fields{FirstName: "A", Birthday: now.AddDate(0, 0, 1).Format(time.DateOnly), OwnerID: "u1"}, []string{"birthday"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := domain.NewContact(uuid.New(), tc.in, ru, now)
			have := fieldsOf(err)
			if len(have) != len(tc.want) {
				t.Fatalf("have fields %v (%v), want %v", have, err, tc.want)
			}
			for i := range have {
				if have[i] != tc.want[i] {
					t.Fatalf("have fields %v, want %v", have, tc.want)
				}
			}
		})
	}
}

func TestNewContactNormalises(t *testing.T) {
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "  Иван   Петрович ", Emails: []string{"Ivan@MAIL.ru", "Ivan@mail.RU"},
		Phones: []string{"8 (495) 123-45-67", "+74951234567", "912 000 00 00"}, Tags: []string{"VIP", "vip", "opt"}, OwnerID: "u1"}, ru, now)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Fields()
	if f.FirstName != "Иван Петрович" || len(f.Emails) != 1 || f.Emails[0] != "ivan@mail.ru" || len(f.Tags) != 2 {
		t.Fatalf("have %+v", f)
	}
	if strings.Join(f.Phones, ",") != "+74951234567,+79120000000" || f.LifecycleStage != domain.StageLead {
		t.Fatalf("phones %v, stage %q", f.Phones, f.LifecycleStage)
	}
	// The Moscow landline gives the zone.
	if f.Timezone != "Europe/Moscow" || !c.TimezoneDerived() {
		t.Fatalf("timezone %q derived %v", f.Timezone, c.TimezoneDerived())
	}
	if keys := strings.Join(c.Keys(), ","); keys != "email:ivan@mail.ru,phone:+74951234567,phone:+79120000000" {
		t.Fatalf("keys %s", keys)
	}
	if c.Version() != 1 || c.ID().Version() != 7 {
		t.Fatalf("have version %d, id version %d", c.Version(), c.ID().Version())
	}
}

func TestApplyChangesOnlyWhatThePatchSays(t *testing.T) {
	c, _ := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", LastName: "B", OwnerID: "u1"}, ru, now)
	last := "C"
	changed, err := c.Apply(domain.Patch{LastName: &last}, ru, now.Add(time.Minute))
	if err != nil || len(changed) != 1 || changed[0] != "last_name" || c.Version() != 2 || c.Fields().FirstName != "A" {
		t.Fatalf("have %v %v v%d %+v", changed, err, c.Version(), c.Fields())
	}
	// A patch that changes nothing keeps the version.
	if changed, _ := c.Apply(domain.Patch{LastName: &last}, ru, now); len(changed) != 0 || c.Version() != 2 {
		t.Fatalf("no-op patch: have %v v%d", changed, c.Version())
	}
	// A refused patch leaves the contact as it was.
	bad := []string{"x"}
	if _, err := c.Apply(domain.Patch{Emails: &bad, LastName: new(string)}, ru, now); err == nil {
		t.Fatal("invalid patch accepted")
	}
	if c.Fields().LastName != "C" || len(c.Fields().Emails) != 0 || c.Version() != 2 {
		t.Fatalf("refused patch changed the contact: %+v v%d", c.Fields(), c.Version())
	}
}

func TestTimesAreKeptAtTheDatabasesPrecision(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("MSK", 3*3600))
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", OwnerID: "u"}, ru, at)
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt().Nanosecond() != 123456000 || c.CreatedAt().Location() != time.UTC {
		t.Fatalf("have %v", c.CreatedAt())
	}
}

func TestPhonesNeedACountry(t *testing.T) {
	if _, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", Phones: []string{"912 000 00 00"}, OwnerID: "u"}, domain.Settings{}, now); len(fieldsOf(err)) != 1 {
		t.Fatalf("a national number without a default country: %v", err)
	}
	us := domain.Settings{DefaultCountry: "US"}
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", Phones: []string{"(212) 555-0123", "+44 20 7946 0958"}, OwnerID: "u"}, us, now)
	if err != nil || strings.Join(c.Fields().Phones, ",") != "+12125550123,+442079460958" {
		t.Fatalf("have %v %v", c, err)
	}
}

func TestTimezoneIsGivenOrDerived(t *testing.T) {
	// Neither a Russian mobile nor Russia (eleven zones) tells the zone.
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", Phones: []string{"+7 912 000-00-00"},
		Address: domain.Address{Country: "RU"}, OwnerID: "u"}, ru, now)
	if err != nil || c.Fields().Timezone != "" {
		t.Fatalf("an ambiguous phone and country gave a zone: %q %v", c.Fields().Timezone, err)
	}
	// A German mobile does: Germany has one zone.
	if de, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", Phones: []string{"+49 151 12345678"}, OwnerID: "u"}, ru, now); err != nil || de.Fields().Timezone != "Europe/Berlin" {
		t.Fatalf("a German mobile: %v %v", de, err)
	}
	if _, ok := c.LocalTime(now); ok {
		t.Fatal("local time without a zone")
	}
	// A single-zone address country decides.
	de := domain.Address{Country: "de", City: "Berlin"}
	if _, err := c.Apply(domain.Patch{Address: &de}, ru, now); err != nil || c.Fields().Timezone != "Europe/Berlin" || c.Fields().Address.Country != "DE" {
		t.Fatalf("have %+v %v", c.Fields(), err)
	}
	local, ok := c.LocalTime(now)
	if !ok || local.Format("15:04 -0700") != "11:00 +0100" {
		t.Fatalf("local time %v %v", local, ok)
	}
	// A given zone wins and stays when the channels change.
	given := "Asia/Yekaterinburg"
	if _, err := c.Apply(domain.Patch{Timezone: &given}, ru, now); err != nil || c.TimezoneDerived() {
		t.Fatal(err)
	}
	landline := []string{"+7 495 123-45-67"}
	if _, err := c.Apply(domain.Patch{Phones: &landline}, ru, now); err != nil || c.Fields().Timezone != given {
		t.Fatalf("a given zone moved: %q %v", c.Fields().Timezone, err)
	}
	// Clearing it derives again, now from the Moscow landline.
	changed, err := c.Apply(domain.Patch{Timezone: new(string)}, ru, now)
	if err != nil || c.Fields().Timezone != "Europe/Moscow" || !c.TimezoneDerived() || strings.Join(changed, ",") != "timezone" {
		t.Fatalf("have %q derived %v changed %v %v", c.Fields().Timezone, c.TimezoneDerived(), changed, err)
	}
}

func TestEraseKeepsOnlyTheBusinessRelationship(t *testing.T) {
	company := uuid.New()
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "Анна", LastName: "Иванова", Emails: []string{"a@x.ru"},
		Phones: []string{"+7 495 123-45-67"}, Position: "CFO", Birthday: "1980-01-01", Address: domain.Address{Country: "RU"},
		Tags: []string{"vip"}, OwnerID: "u1", CompanyID: company, LifecycleStage: "customer", Source: "referral"}, ru, now)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := c.Erase(now.Add(time.Hour))
	if err != nil || !c.Erased() || c.Version() != 2 || len(changed) != 10 {
		t.Fatalf("erase: %v %v erased=%v v%d", changed, err, c.Erased(), c.Version())
	}
	f := c.Fields()
	if f.FirstName != "" || len(f.Emails) != 0 || len(f.Phones) != 0 || f.Timezone != "" || f.Birthday != "" || !f.Address.IsZero() ||
		len(f.Tags) != 0 || f.Position != "" || len(c.Keys()) != 0 || c.SearchText() != "" {
		t.Fatalf("personal data left: %+v", f)
	}
	if f.OwnerID != "u1" || f.CompanyID != uuid.Nil || f.LifecycleStage != "customer" || f.Source != "referral" {
		t.Fatalf("the relationship was lost: %+v", f)
	}
	name := "Анна"
	if _, err := c.Apply(domain.Patch{FirstName: &name}, ru, now); err != domain.ErrContactErased {
		t.Fatalf("an erased contact was changed: %v", err)
	}
	if _, err := c.Erase(now); err != domain.ErrContactErased {
		t.Fatalf("erased twice: %v", err)
	}
}

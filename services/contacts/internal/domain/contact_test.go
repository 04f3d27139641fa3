package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

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
	} {
		t.Run(name, func(t *testing.T) {
			_, err := domain.NewContact(uuid.New(), tc.in, now)
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
		Tags: []string{"VIP", "vip", "opt"}, OwnerID: "u1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Fields()
	if f.FirstName != "Иван Петрович" || len(f.Emails) != 1 || f.Emails[0] != "Ivan@mail.ru" || len(f.Tags) != 2 {
		t.Fatalf("have %+v", f)
	}
	if c.Version() != 1 || c.ID().Version() != 7 {
		t.Fatalf("have version %d, id version %d", c.Version(), c.ID().Version())
	}
}

func TestApplyChangesOnlyWhatThePatchSays(t *testing.T) {
	c, _ := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", LastName: "B", OwnerID: "u1"}, now)
	last := "C"
	changed, err := c.Apply(domain.Patch{LastName: &last}, now.Add(time.Minute))
	if err != nil || len(changed) != 1 || changed[0] != "last_name" || c.Version() != 2 || c.Fields().FirstName != "A" {
		t.Fatalf("have %v %v v%d %+v", changed, err, c.Version(), c.Fields())
	}
	// A patch that changes nothing keeps the version.
	if changed, _ := c.Apply(domain.Patch{LastName: &last}, now); len(changed) != 0 || c.Version() != 2 {
		t.Fatalf("no-op patch: have %v v%d", changed, c.Version())
	}
	// A refused patch leaves the contact as it was.
	bad := []string{"x"}
	if _, err := c.Apply(domain.Patch{Emails: &bad, LastName: new(string)}, now); err == nil {
		t.Fatal("invalid patch accepted")
	}
	if c.Fields().LastName != "C" || len(c.Fields().Emails) != 0 || c.Version() != 2 {
		t.Fatalf("refused patch changed the contact: %+v v%d", c.Fields(), c.Version())
	}
}

func TestTimesAreKeptAtTheDatabasesPrecision(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("MSK", 3*3600))
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "A", OwnerID: "u"}, at)
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt().Nanosecond() != 123456000 || c.CreatedAt().Location() != time.UTC {
		t.Fatalf("have %v", c.CreatedAt())
	}
}

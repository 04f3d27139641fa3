package domain_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"  Пётр   ЁЛКИН ": "петр елкин",
		"Андрей":          "андреи",
		"José Müller":     "jose muller",
		"ÅSA-Øre":         "asa-øre", // ø is a letter of its own, not o with a mark
	} {
		if have := domain.Fold(in); have != want {
			t.Errorf("Fold(%q) = %q, want %q", in, have, want)
		}
	}
}

func TestSearchTerms(t *testing.T) {
	for q, want := range map[string]string{
		"Пётр Ёлкин":         "|петр,елкин",
		"anna@Example.ru":    "email:anna@example.ru|",
		"+7 (495) 123-45-67": "phone:+74951234567|74951234567",
		"8 495 123 45 67":    "phone:+74951234567|84951234567",
		"4567":               "|4567",
		"«Ромашка», ООО":     "|ромашка,ооо",
		"   ":                "|",
	} {
		keys, words := domain.SearchTerms(q, domain.Settings{DefaultCountry: "RU"})
		if have := strings.Join(keys, ",") + "|" + strings.Join(words, ","); have != want {
			t.Errorf("SearchTerms(%q) = %q, want %q", q, have, want)
		}
	}
}

func TestContactSearchText(t *testing.T) {
	c, err := domain.NewContact(uuid.New(), domain.Fields{FirstName: "Пётр", LastName: "Ёлкин", Position: "CEO",
		Emails: []string{"Petr@Mail.ru"}, Phones: []string{"+7 495 123-45-67"}, OwnerID: "u"}, domain.Settings{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if have := c.SearchText(); have != "петр елкин ceo petr@mail.ru 74951234567" {
		t.Fatalf("search text %q", have)
	}
	if have := c.SortName(); have != "елкин петр" {
		t.Fatalf("sort name %q", have)
	}
}

package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// LeadSource is a channel a tenant's leads come through: its value is what
// a contact's source holds, its label what people read.
type LeadSource struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Limits of a tenant's lead sources.
const (
	MaxLeadSources     = 100
	maxLeadSourceLabel = 100
)

var leadSourceValue = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// defaultLeadSources are a new tenant's, labelled in Russian and English.
var defaultLeadSources = []struct{ value, ru, en string }{
	{"website", "Сайт", "Website"},
	{"phone", "Звонок", "Phone call"},
	{"email", "Электронная почта", "E-mail"},
	{"referral", "Рекомендация", "Referral"},
	{"advertising", "Реклама", "Advertising campaign"},
	{"social", "Социальные сети", "Social media"},
	{"event", "Мероприятие", "Event"},
	{"partner", "Партнёр", "Partner"},
	{"other", "Другое", "Other"},
}

// DefaultLeadSources are the lead sources a new tenant starts with, in its
// locale's language: Russian for ru (and ru-RU, …), English otherwise.
func DefaultLeadSources(locale string) []LeadSource {
	ru := strings.HasPrefix(strings.ToLower(locale), "ru")
	out := make([]LeadSource, len(defaultLeadSources))
	for i, d := range defaultLeadSources {
		out[i] = LeadSource{Value: d.value, Label: d.en}
		if ru {
			out[i].Label = d.ru
		}
	}
	return out
}

// CleanLeadSources validates a tenant's new list: one to MaxLeadSources
// entries, each a distinct value (lower case letters, digits, _ and -) with
// a label.
func CleanLeadSources(in []LeadSource) ([]LeadSource, error) {
	var v apperr.Invalid
	if len(in) == 0 || len(in) > MaxLeadSources {
		v.Add("items", fmt.Sprintf("from 1 to %d lead sources", MaxLeadSources))
	}
	out := make([]LeadSource, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		s.Value = strings.TrimSpace(s.Value)
		s.Label = strings.Join(strings.Fields(s.Label), " ")
		path := fmt.Sprintf("items/%d", i)
		switch {
		case !leadSourceValue.MatchString(s.Value):
			v.Add(path+"/value", "lower case letters, digits, _ and -, starting with a letter, at most 40")
		case seen[s.Value]:
			v.Add(path+"/value", fmt.Sprintf("%q is listed twice", s.Value))
		}
		if s.Label == "" || utf8.RuneCountInString(s.Label) > maxLeadSourceLabel {
			v.Add(path+"/label", fmt.Sprintf("from 1 to %d characters", maxLeadSourceLabel))
		}
		seen[s.Value] = true
		out = append(out, s)
	}
	return out, v.Err()
}

// cleanSource checks a contact's source against the tenant's lead sources
// (sources, by value) when it changes from was: a source is one of them,
// in any case; one the contact already had stays even if the tenant has
// since dropped it. No lead sources at all leaves the source free text.
func cleanSource(v *apperr.Invalid, source, was string, sources []string) string {
	source = cleanText(v, "source", source, MaxSourceLen)
	if source == "" || source == was || len(sources) == 0 {
		return source
	}
	if i := slices.IndexFunc(sources, func(s string) bool { return strings.EqualFold(s, source) }); i >= 0 {
		return sources[i]
	}
	v.Add("source", "one of the tenant's lead sources (GET /v1/lead-sources): "+strings.Join(sources, ", "))
	return source
}

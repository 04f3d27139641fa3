package catalog_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/pkg/catalog"
)

// Every name, topic and collection is well formed and given once: two
// services never claim one collection or topic.
func TestCatalogIsConsistent(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	topic := regexp.MustCompile(`^crm\.[a-z-]+\.events\.v[0-9]+$`)
	eventType := regexp.MustCompile(`^crm\.[a-z_]+\.[a-z_]+$`)
	seen := map[string]string{}
	claim := func(kind, v, by string) {
		if other, ok := seen[kind+" "+v]; ok {
			t.Errorf("%s %q is claimed by %s and %s", kind, v, other, by)
		}
		seen[kind+" "+v] = by
	}
	for _, s := range catalog.Services {
		if !name.MatchString(s.Name) || !topic.MatchString(s.Topic) || len(s.Collections) == 0 {
			t.Errorf("malformed entry %+v", s)
		}
		claim("service", s.Name, s.Name)
		claim("topic", s.Topic, s.Name)
		for _, c := range s.Collections {
			if !name.MatchString(c) {
				t.Errorf("%s: collection %q", s.Name, c)
			}
			claim("collection", c, s.Name)
		}
		for _, e := range s.Events {
			if !eventType.MatchString(e) {
				t.Errorf("%s: event type %q", s.Name, e)
			}
			claim("event type", e, s.Name)
			if p, ok := catalog.Publisher(e); !ok || p.Name != s.Name {
				t.Errorf("Publisher(%s) = %s %v", e, p.Name, ok)
			}
		}
		for _, e := range s.FieldEntities {
			claim("entity", e, s.Name)
		}
		if got, ok := catalog.Lookup(s.Name); !ok || got.Topic != s.Topic {
			t.Errorf("Lookup(%s) = %+v %v", s.Name, got, ok)
		}
	}
	if have := catalog.Acknowledging(); !slices.Contains(have, "contacts") || !slices.Contains(have, "sales") {
		t.Errorf("acknowledging: %v", have)
	}
	if have := catalog.FieldEntities(); !slices.Equal(have, []string{"contact", "company", "deal"}) {
		t.Errorf("entities with custom fields: %v", have)
	}
	if _, ok := catalog.Publisher("crm.nothing.happened"); ok {
		t.Error("an unknown event type has a publisher")
	}
	if have := catalog.TopicsAboutContacts("contacts"); !slices.Contains(have, catalog.SalesTopic) || slices.Contains(have, catalog.ContactsTopic) {
		t.Errorf("topics about contacts for contacts' timeline: %v", have)
	}
}

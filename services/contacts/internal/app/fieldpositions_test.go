package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// fieldOrder lists an entity's fields as GET /v1/fields orders them, as
// key:position.
func fieldOrder(t *testing.T, h *harness, tok, entity string) string {
	t.Helper()
	var out []string
	for _, it := range h.do("GET", "/v1/fields?entity="+entity, tok, nil).Want(t, http.StatusOK).Body["items"].([]any) {
		f := it.(map[string]any)
		out = append(out, fmt.Sprintf("%s:%v", f["key"], f["position"]))
	}
	return strings.Join(out, " ")
}

// A field defined without a position comes after its entity's others, even
// when many are defined at once; a position given on create or PATCH is
// kept, and the list follows the positions.
func TestNewFieldsComeLast(t *testing.T) {
	h := start(t)
	adm := h.token(h.tenantA, auth.RoleAdmin)
	define := func(entity, key string, position ...int) testenv.Reply {
		body := map[string]any{"entity": entity, "key": key, "label": key, "type": "text"}
		if len(position) > 0 {
			body["position"] = position[0]
		}
		return h.do("POST", "/v1/fields", adm, body).Want(t, http.StatusCreated)
	}
	if r := define("contact", "first"); r.Body["position"].(float64) != 0 {
		t.Fatalf("the first field: %s", r.Raw)
	}
	define("contact", "second")
	define("company", "verified") // each entity counts on its own
	define("contact", "pinned", 10)
	if r := define("contact", "after_pinned"); r.Body["position"].(float64) != 11 {
		t.Fatalf("after a field at 10: %s", r.Raw)
	}
	if have := fieldOrder(t, h, adm, "contact"); have != "first:0 second:1 pinned:10 after_pinned:11" {
		t.Fatalf("contact fields: %s", have)
	}
	if have := fieldOrder(t, h, adm, "company"); have != "verified:0" {
		t.Fatalf("company fields: %s", have)
	}
	// Moved by PATCH, and read back where it was put.
	id := define("contact", "moved").Body["id"].(string)
	if r := h.do("PATCH", "/v1/fields/"+id, adm, map[string]any{"position": 1}, "If-Match", `"1"`).Want(t, http.StatusOK); r.Body["position"].(float64) != 1 {
		t.Fatalf("moved: %s", r.Raw)
	}
	if r := h.do("GET", "/v1/fields/"+id, adm, nil).Want(t, http.StatusOK); r.Body["position"].(float64) != 1 {
		t.Fatalf("read back: %s", r.Raw)
	}
	if have := fieldOrder(t, h, adm, "contact"); have != "first:0 moved:1 second:1 pinned:10 after_pinned:11" {
		t.Fatalf("after the move: %s", have)
	}

	// Defined at once, each takes a place of its own after the others.
	var wg sync.WaitGroup
	positions := make([]int, 8)
	for i := range positions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do("POST", "/v1/fields", adm, map[string]any{"entity": "deal", "key": fmt.Sprintf("f%d", i), "label": "f", "type": "text"})
			if r.Status != http.StatusCreated {
				t.Errorf("define f%d: %d %s", i, r.Status, r.Raw)
				return
			}
			positions[i] = int(r.Body["position"].(float64))
		}()
	}
	wg.Wait()
	slices.Sort(positions)
	if fmt.Sprint(positions) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("concurrent positions %v", positions)
	}

	// Defined at once at the limit, one more field fits and no other.
	n := len(h.do("GET", "/v1/fields", adm, nil).Want(t, http.StatusOK).Body["items"].([]any))
	for i := n; i < domain.MaxFields-1; i++ {
		define("company", fmt.Sprintf("c%d", i))
	}
	statuses := make([]int, 16)
	gate := make(chan struct{}) // released at once, so the requests overlap
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			statuses[i] = h.do("POST", "/v1/fields", adm, map[string]any{"entity": "company", "key": fmt.Sprintf("last%d", i), "label": "l",
				"type": "text"}).Status
		}()
	}
	close(gate)
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Fatalf("at the limit: statuses %v", statuses)
		}
	}
	if created != 1 {
		t.Fatalf("at the limit: statuses %v", statuses)
	}
	if n := len(h.do("GET", "/v1/fields", adm, nil).Want(t, http.StatusOK).Body["items"].([]any)); n != domain.MaxFields {
		t.Fatalf("%d fields, limit %d", n, domain.MaxFields)
	}
}

package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// A tenant's API key reaches its tenant's contacts; being no user, it must
// name the owner of what it creates, and of the rows it imports.
func TestAPIKeyCallerNamesTheOwner(t *testing.T) {
	h := start(t)
	key, entry, err := tenancy.IssueAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	h.provision(&tenancyv1.TenantRecord{Id: id.String(), Name: "keyed", Generation: 1, Region: "local", ApiKeys: []*tenancyv1.ApiKey{entry}})

	for path, body := range map[string]map[string]any{
		"/v1/contacts":  {"first_name": "Anna", "last_name": "Key"},
		"/v1/companies": {"name": "ООО Ключ"},
	} {
		r := h.do("POST", path, key, body).Want(t, http.StatusUnprocessableEntity)
		if !slices.Contains(r.FieldPaths(), "owner_id") {
			t.Fatalf("%s: the refusal does not name owner_id: %s", path, r.Raw)
		}
		body["owner_id"] = "olga"
		if r := h.do("POST", path, key, body).Want(t, http.StatusCreated); r.Body["owner_id"] != "olga" {
			t.Fatalf("%s: owner %v", path, r.Body["owner_id"])
		}
	}
	r := h.postCSV(key, "entity=contacts", []byte("first_name,last_name\nIvan,Petrov\n")).Want(t, http.StatusUnprocessableEntity)
	if !slices.Contains(r.FieldPaths(), "owner_id") {
		t.Fatalf("an import without owners: %s", r.Raw)
	}
	// A row that leaves its owner empty is refused, not owned by the key.
	job := h.postCSV(key, "entity=contacts", []byte("first_name,last_name,owner_id\nIvan,Petrov,olga\nPetr,Ivanov,\n")).Want(t, http.StatusAccepted)
	done := h.waitImport(key, job.Body["id"].(string))
	if errs := h.importErrors(key, job.Body["id"].(string)); len(errs) != 2 || !strings.Contains(strings.Join(errs[1], ","), "owner_id") {
		t.Fatalf("import %s, errors %v", done.Raw, errs)
	}
	if n := h.countRows(id, "contacts where owner_id like 'apikey:%'"); n != 0 {
		t.Fatalf("%d contacts are owned by the API key", n)
	}

	// The key is its tenant's only.
	other := h.do("POST", "/v1/contacts", h.token(h.tenantA, "admin"), map[string]any{"first_name": "Only", "last_name": "A"}).Want(t, http.StatusCreated)
	h.do("GET", "/v1/contacts/"+other.Body["id"].(string), key, nil).Want(t, http.StatusNotFound)
}

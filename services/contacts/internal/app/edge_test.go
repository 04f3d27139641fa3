package app_test

import (
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// The HTTP edge of issue 12: what a careless or hostile client sends.

func TestIfMatchFollowsRFC9110(t *testing.T) {
	h := start(t)
	tok := h.token(h.tenantA, auth.RoleManager)
	id := h.do("POST", "/v1/contacts", tok, anna).want(t, http.StatusCreated).body["id"].(string)
	path := "/v1/contacts/" + id
	// A weak tag never matches under strong comparison.
	h.do("PATCH", path, tok, map[string]any{"last_name": "Weak"}, "If-Match", `W/"1"`).want(t, http.StatusPreconditionFailed)
	// A list matches when any member does.
	r := h.do("PATCH", path, tok, map[string]any{"last_name": "Listed"}, "If-Match", `"1", "2"`).want(t, http.StatusOK)
	if r.header.Get("ETag") != `"2"` {
		t.Fatalf("have %s", r.raw)
	}
	h.do("PATCH", path, tok, map[string]any{"last_name": "Stale"}, "If-Match", `"1", W/"2"`).want(t, http.StatusPreconditionFailed)
	// A tag this API never made is valid and matches nothing; only broken syntax is 400.
	h.do("PATCH", path, tok, map[string]any{"last_name": "Foreign"}, "If-Match", `"abc"`).want(t, http.StatusPreconditionFailed)
	h.do("PATCH", path, tok, map[string]any{"last_name": "Broken"}, "If-Match", `"2`).want(t, http.StatusBadRequest)
	h.do("PATCH", path, tok, map[string]any{"last_name": "Any"}, "If-Match", `*`).want(t, http.StatusOK)
	g := h.do("GET", path, tok, nil).want(t, http.StatusOK)
	if g.body["last_name"] != "Any" || g.body["version"].(float64) != 3 {
		t.Fatalf("refused patches changed the contact: %s", g.raw)
	}
}

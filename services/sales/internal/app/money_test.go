package app_test

import (
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// Tenant A works in Russian with RUB, B in English with USD: each reads
// money in its refusals as it writes money.
func TestRefusalsWriteMoneyAsTheTenantDoes(t *testing.T) {
	h := start(t)
	const nbsp = "\u00a0"
	for _, tc := range []struct {
		name          string
		admin         string
		amount, rate  string
		amountInOther string
	}{
		{"ru", h.token(h.tenantA, auth.RoleAdmin), "1" + nbsp + "500,00" + nbsp + "₽",
			"1" + nbsp + "000" + nbsp + "000,00" + nbsp + "₽", "1" + nbsp + "500,00" + nbsp + "$"},
		{"en", h.token(h.tenantB, auth.RoleAdmin), "$1,500.00", "$1,000,000.00", "€1,500.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/v1/deals", tc.admin, map[string]any{"title": "x", "amount": -1}).Want(t, 422)
			if msg := message(r, "amount"); !strings.Contains(msg, "(150000 is "+tc.amount+")") {
				t.Errorf("amount: %q", msg)
			}
			other := map[string]string{"ru": "USD", "en": "EUR"}[tc.name]
			r = h.do("POST", "/v1/deals", tc.admin, map[string]any{"title": "x", "amount": -1, "currency": other}).Want(t, 422)
			if msg := message(r, "amount"); !strings.Contains(msg, "(150000 is "+tc.amountInOther+")") {
				t.Errorf("amount in %s: %q", other, msg)
			}
			r = h.do("POST", "/v1/currency-rates", tc.admin, map[string]any{"currency": "CNY", "rate": "2000000"}).Want(t, 422)
			if msg := message(r, "rate"); msg != "must be at most "+tc.rate+" for one unit of the currency" {
				t.Errorf("rate: %q", msg)
			}
		})
	}
}

// message is the message of a validation problem's error about field.
func message(r reply, field string) string {
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if m := e.(map[string]any); m["field"] == field {
			s, _ := m["message"].(string)
			return s
		}
	}
	return ""
}

package domain_test

import (
	"errors"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// A quota refusal is a 403 kind with its slug, says how many contacts the
// tenant may hold and holds (and how many a write of several would add),
// and carries the numbers for callers that read them with errors.As.
func TestErrQuotaExceeded(t *testing.T) {
	for _, tc := range []struct {
		quota, count, added int64
		want                string
	}{
		{1000, 1000, 1, "your tenant may hold at most 1000 contacts; it holds 1000"},
		{1000, 1000, 0, "your tenant may hold at most 1000 contacts; it holds 1000"},
		{5, 4, 3, "your tenant may hold at most 5 contacts; it holds 4, and this would add 3"},
	} {
		err := domain.ErrQuotaExceeded(tc.quota, tc.count, tc.added)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindForbidden || e.Slug != "quota-exceeded" || e.Message != tc.want ||
			e.Extensions["quota"] != tc.quota || e.Extensions["count"] != tc.count {
			t.Errorf("have %#v, want %q", e, tc.want)
		}
		var q *domain.QuotaExceeded
		if !errors.As(err, &q) || *q != (domain.QuotaExceeded{Quota: tc.quota, Count: tc.count, Added: tc.added}) {
			t.Errorf("errors.As found %v", q)
		}
	}
}

package apperr_test

import (
	"fmt"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

func TestInvalidCollectsEveryField(t *testing.T) {
	var v apperr.Invalid
	if v.Err() != nil {
		t.Fatal("no field errors must give nil")
	}
	v.Add("emails/0", "not an e-mail address")
	v.Add("first_name", "too long")
	err := fmt.Errorf("wrapped: %w", v.Err())
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 2 || e.Fields[0].Field != "emails/0" {
		t.Fatalf("have %+v", e)
	}
	if apperr.KindOf(err) != apperr.KindInvalid || apperr.KindOf(fmt.Errorf("x")) != apperr.KindInternal {
		t.Fatal("KindOf does not see through wrapping")
	}
}

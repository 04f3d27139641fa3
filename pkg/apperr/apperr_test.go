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

func TestBeforeReportsUnreadableValuesFirst(t *testing.T) {
	unreadable := []apperr.FieldError{{Field: "contact_id", Message: "must be a UUID"}}
	var v apperr.Invalid
	v.Add("title", "is required")
	fields := func(err error) []string {
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid {
			t.Fatalf("have %v, want a validation error", err)
		}
		var out []string
		for _, f := range e.Fields {
			out = append(out, f.Field)
		}
		return out
	}
	if have := fields(apperr.Before(unreadable, v.Err())); fmt.Sprint(have) != "[contact_id title]" {
		t.Errorf("joined with a validation error: have %v", have)
	}
	if have := fields(apperr.Before(unreadable, nil)); fmt.Sprint(have) != "[contact_id]" {
		t.Errorf("alone: have %v", have)
	}
	other := apperr.New(apperr.KindInvalid, "missing-required", "the stage requires amount")
	if have := fields(apperr.Before(unreadable, other)); fmt.Sprint(have) != "[contact_id]" {
		t.Errorf("before another refusal: have %v", have)
	}
	if err := apperr.Before(nil, other); err != other {
		t.Errorf("without fields: have %v, want err itself", err)
	}
	if e, _ := apperr.As(v.Err()); len(e.Fields) != 1 {
		t.Errorf("Before changed its argument: %v", e.Fields)
	}
}

func TestFieldIsOneInvalidField(t *testing.T) {
	e, ok := apperr.As(apperr.Field("due_local", "needs a time zone"))
	if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0] != (apperr.FieldError{Field: "due_local", Message: "needs a time zone"}) {
		t.Fatalf("have %+v", e)
	}
}

package ids_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/ids"
)

func TestNilIsNone(t *testing.T) {
	id := uuid.New()
	if ids.Ptr(uuid.Nil) != nil || *ids.Ptr(id) != id {
		t.Error("Ptr")
	}
	if ids.Of(nil) != uuid.Nil || ids.Of(&id) != id {
		t.Error("Of")
	}
	if ids.String(uuid.Nil) != "" || ids.String(id) != id.String() {
		t.Error("String")
	}
}

package httpkit_test

import (
	"encoding/json"
	"testing"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

func TestNullableTellsAbsentNullAndValueApart(t *testing.T) {
	type patch struct {
		A httpkit.Nullable[string] `json:"a"`
		B httpkit.Nullable[string] `json:"b"`
		C httpkit.Nullable[string] `json:"c"`
	}
	var p patch
	if err := json.Unmarshal([]byte(`{"b":null,"c":"x"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.A.Set || p.A.Ptr() != nil {
		t.Errorf("absent: %+v", p.A)
	}
	if !p.B.Set || !p.B.Null || p.B.Ptr() == nil || *p.B.Ptr() != "" {
		t.Errorf("null: %+v", p.B)
	}
	if !p.C.Set || p.C.Null || *p.C.Ptr() != "x" {
		t.Errorf("value: %+v", p.C)
	}
	if err := json.Unmarshal([]byte(`{"a":5}`), &p); err == nil {
		t.Error("a number accepted for a string")
	}
}

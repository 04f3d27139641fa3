package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func TestNewFieldValidates(t *testing.T) {
	if _, err := domain.NewField(uuid.New(), domain.FieldDef{Entity: "task", Key: "Segment", Type: "color", Label: ""}, now); strings.Join(fieldsOf(err), ",") != "entity,key,type,label" {
		t.Fatalf("have %v", err)
	}
	if _, err := domain.NewField(uuid.New(), domain.FieldDef{Entity: "contact", Key: "segment", Type: "enum", Label: "Segment"}, now); strings.Join(fieldsOf(err), ",") != "options" {
		t.Fatalf("an enum without options: %v", err)
	}
	f, err := domain.NewField(uuid.New(), domain.FieldDef{Entity: "contact", Key: "segment", Type: "enum", Label: "Сегмент",
		Options: []domain.Option{{Value: "smb"}, {Value: "enterprise", Label: "Крупный"}}}, now)
	if err != nil || f.Def().Options[0].Label != "smb" {
		t.Fatalf("have %v %v", f, err)
	}
	more := append(f.Def().Options, domain.Option{Value: "smb"})
	if _, err := f.Apply(domain.FieldPatch{Options: &more}, now); strings.Join(fieldsOf(err), ",") != "options/2/value" {
		t.Fatalf("a repeated option: %v", err)
	}
}

func TestCleanCustom(t *testing.T) {
	defs := []domain.FieldDef{
		{Key: "segment", Type: "enum", Options: []domain.Option{{Value: "smb"}, {Value: "enterprise"}}},
		{Key: "channels", Type: "multi_enum", Options: []domain.Option{{Value: "email"}, {Value: "phone"}}},
		{Key: "budget", Type: "money"},
		{Key: "employees", Type: "number"},
		{Key: "since", Type: "date"},
		{Key: "partner", Type: "boolean"},
		{Key: "site", Type: "url"},
		{Key: "inn", Type: "text", Required: true},
	}
	var in map[string]any
	_ = json.Unmarshal([]byte(`{"segment":"smb","channels":["email","email","phone"],"budget":{"amount":150000,"currency":"rub"},
		"employees":250,"since":"2020-01-31","partner":true,"site":"https://x.ru/a","inn":"  7701 "}`), &in)
	out, err := domain.CleanCustom(defs, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if string(b) != `{"budget":{"amount":150000,"currency":"RUB"},"channels":["email","phone"],"employees":250,"inn":"7701","partner":true,"segment":"smb","since":"2020-01-31","site":"https://x.ru/a"}` {
		t.Fatalf("have %s", b)
	}
	var bad map[string]any
	_ = json.Unmarshal([]byte(`{"segment":"huge","channels":"email","budget":{"amount":1.5,"currency":"RUB"},"employees":"many",
		"since":"31.01.2020","partner":"yes","site":"ftp://x","color":"red"}`), &bad)
	_, err = domain.CleanCustom(defs, nil, bad)
	if have := strings.Join(fieldsOf(err), ","); have != "custom/budget,custom/channels,custom/color,custom/employees,custom/partner,custom/segment,custom/since,custom/site,custom/inn" {
		t.Fatalf("fields %s", have)
	}
	// A patch merges: null clears, absent keeps; a required field can't be cleared.
	next, err := domain.CleanCustom(defs, out, map[string]any{"segment": nil, "employees": 300.0})
	if err != nil || next["segment"] != nil || next["employees"] != 300.0 || next["inn"] != "7701" {
		t.Fatalf("merge: %v %v", next, err)
	}
	if _, err := domain.CleanCustom(defs, out, map[string]any{"inn": nil}); strings.Join(fieldsOf(err), ",") != "custom/inn" {
		t.Fatalf("clearing a required field: %v", err)
	}
	// Values of a field that was deleted are dropped.
	if next, err := domain.CleanCustom(defs[1:], out, nil); err != nil || next["segment"] != nil {
		t.Fatalf("have %v %v", next, err)
	}
}

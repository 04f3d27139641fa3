package domain

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Entities that carry custom fields in this service.
const (
	EntityContact = "contact"
	EntityCompany = "company"
)

// Entities lists them.
var Entities = []string{EntityContact, EntityCompany}

// FieldTypes are the kinds of value a custom field holds.
var FieldTypes = []string{"text", "number", "date", "boolean", "enum", "multi_enum", "money", "url"}

// Limits of custom fields.
const (
	MaxFields      = 200
	MaxOptions     = 500
	MaxCustomText  = 2000
	maxFieldKeyLen = 40
)

var fieldKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Option is one choice of an enum or multi-enum field.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Field defines a custom field of an entity.
type Field struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	f         FieldDef
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// FieldDef is what a tenant admin defines. Entity, Key and Type are fixed
// once the field exists: values already stored depend on them.
type FieldDef struct {
	Entity   string
	Key      string
	Label    string
	Type     string
	Required bool
	Options  []Option
	Position int
}

// FieldPatch changes what may change of a field; nil leaves it alone.
type FieldPatch struct {
	Label    *string
	Required *bool
	Options  *[]Option
	Position *int
}

// NewField validates a definition.
func NewField(tenantID uuid.UUID, d FieldDef, now time.Time) (*Field, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	var v apperr.Invalid
	d.Entity = strings.TrimSpace(d.Entity)
	d.Key = strings.TrimSpace(d.Key)
	d.Type = strings.TrimSpace(d.Type)
	if !slices.Contains(Entities, d.Entity) {
		v.Add("entity", "one of "+strings.Join(Entities, ", "))
	}
	if !fieldKey.MatchString(d.Key) || len(d.Key) > maxFieldKeyLen {
		v.Add("key", fmt.Sprintf("lower-case letters, digits and _, starting with a letter, at most %d characters", maxFieldKeyLen))
	}
	if !slices.Contains(FieldTypes, d.Type) {
		v.Add("type", "one of "+strings.Join(FieldTypes, ", "))
	}
	now = stamp(now)
	fl := &Field{id: id, tenantID: tenantID, version: 1, createdAt: now, updatedAt: now}
	fl.f = d.clean(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return fl, nil
}

// clean checks what may change: label, options, position.
func (d FieldDef) clean(v *apperr.Invalid) FieldDef {
	d.Label = cleanText(v, "label", d.Label, MaxTextLen)
	if d.Label == "" {
		v.Add("label", "a field needs a label")
	}
	enum := d.Type == "enum" || d.Type == "multi_enum"
	switch {
	case enum && len(d.Options) == 0:
		v.Add("options", "an enum field needs options")
	case !enum && len(d.Options) > 0:
		v.Add("options", "only enum and multi_enum fields have options")
	case len(d.Options) > MaxOptions:
		v.Add("options", fmt.Sprintf("at most %d options", MaxOptions))
	}
	seen := map[string]bool{}
	opts := make([]Option, 0, len(d.Options))
	for i, o := range d.Options {
		o.Value = strings.TrimSpace(o.Value)
		o.Label = cleanText(v, fmt.Sprintf("options/%d/label", i), o.Label, MaxTextLen)
		switch {
		case o.Value == "" || utf8.RuneCountInString(o.Value) > MaxTextLen:
			v.Add(fmt.Sprintf("options/%d/value", i), fmt.Sprintf("1 to %d characters", MaxTextLen))
		case seen[o.Value]:
			v.Add(fmt.Sprintf("options/%d/value", i), "repeats another option")
		}
		seen[o.Value] = true
		if o.Label == "" {
			o.Label = o.Value
		}
		opts = append(opts, o)
	}
	d.Options = opts
	return d
}

// Apply changes the field and returns the names of what changed.
func (fl *Field) Apply(p FieldPatch, now time.Time) ([]string, error) {
	d := fl.f
	d.Options = slices.Clone(d.Options)
	if p.Label != nil {
		d.Label = *p.Label
	}
	if p.Required != nil {
		d.Required = *p.Required
	}
	if p.Options != nil {
		d.Options = *p.Options
	}
	if p.Position != nil {
		d.Position = *p.Position
	}
	var v apperr.Invalid
	d = d.clean(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var changed []string
	if d.Label != fl.f.Label {
		changed = append(changed, "label")
	}
	if d.Required != fl.f.Required {
		changed = append(changed, "required")
	}
	if !slices.Equal(d.Options, fl.f.Options) {
		changed = append(changed, "options")
	}
	if d.Position != fl.f.Position {
		changed = append(changed, "position")
	}
	if len(changed) > 0 {
		fl.f = d
		fl.version++
		fl.updatedAt = stamp(now)
	}
	return changed, nil
}

func (fl *Field) ID() uuid.UUID        { return fl.id }
func (fl *Field) TenantID() uuid.UUID  { return fl.tenantID }
func (fl *Field) Def() FieldDef        { d := fl.f; d.Options = slices.Clone(d.Options); return d }
func (fl *Field) Version() int64       { return fl.version }
func (fl *Field) CreatedAt() time.Time { return fl.createdAt }
func (fl *Field) UpdatedAt() time.Time { return fl.updatedAt }

// UnmarshalFieldFromDatabase rebuilds a stored field; it trusts its input.
func UnmarshalFieldFromDatabase(id, tenantID uuid.UUID, d FieldDef, version int64, createdAt, updatedAt time.Time) *Field {
	return &Field{id: id, tenantID: tenantID, f: d, version: version, createdAt: createdAt, updatedAt: updatedAt}
}

// Money is a money value: minor units and an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// CleanCustom validates custom values against the entity's field
// definitions and merges them into prev (nil on create): a value sets a
// field, null clears it. Every required field must hold a value afterwards.
// Values come back in canonical form (trimmed text, deduplicated choices,
// upper-case currencies), every broken rule under custom/<key>.
func CleanCustom(defs []FieldDef, prev, values map[string]any) (map[string]any, error) {
	var v apperr.Invalid
	out := cleanCustom(&v, defs, prev, values)
	return out, v.Err()
}

func cleanCustom(v *apperr.Invalid, defs []FieldDef, prev, values map[string]any) map[string]any {
	byKey := make(map[string]FieldDef, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	out := make(map[string]any, len(prev)+len(values))
	for k, val := range prev {
		if _, ok := byKey[k]; ok { // values of deleted fields are gone
			out[k] = val
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := "custom/" + k
		d, ok := byKey[k]
		if !ok {
			v.Add(path, "no such custom field")
			continue
		}
		if values[k] == nil {
			delete(out, k)
			continue
		}
		clean, problem := cleanValue(d, values[k])
		if problem != "" {
			v.Add(path, problem)
			continue
		}
		out[k] = clean
	}
	for _, d := range defs {
		if _, ok := out[d.Key]; !d.Required || ok {
			continue
		}
		switch sent, was := values[d.Key]; {
		case !was:
			v.Add("custom/"+d.Key, "required")
		case sent == nil:
			v.Add("custom/"+d.Key, "required: it cannot be cleared")
		}
		// A value that was sent and refused is reported above.
	}
	return out
}

func cleanValue(d FieldDef, val any) (any, string) {
	switch d.Type {
	case "text":
		s, ok := val.(string)
		s = strings.TrimSpace(s)
		if !ok || utf8.RuneCountInString(s) > MaxCustomText {
			return nil, fmt.Sprintf("a text of at most %d characters", MaxCustomText)
		}
		if s == "" {
			return nil, "an empty text; send null to clear the field"
		}
		return s, ""
	case "number":
		n, ok := val.(float64)
		if jn, isJSON := val.(json.Number); isJSON {
			f, err := jn.Float64()
			n, ok = f, err == nil
		}
		if !ok || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, "a number"
		}
		return n, ""
	case "date":
		s, ok := val.(string)
		if _, err := time.Parse(time.DateOnly, s); !ok || err != nil {
			return nil, "a date YYYY-MM-DD"
		}
		return s, ""
	case "boolean":
		b, ok := val.(bool)
		if !ok {
			return nil, "true or false"
		}
		return b, ""
	case "enum":
		s, ok := val.(string)
		if !ok || !hasOption(d, s) {
			return nil, "one of the field's options: " + optionList(d)
		}
		return s, ""
	case "multi_enum":
		list, ok := val.([]any)
		if !ok {
			return nil, "a list of the field's options: " + optionList(d)
		}
		out := make([]any, 0, len(list))
		seen := map[string]bool{}
		for _, x := range list {
			s, ok := x.(string)
			if !ok || !hasOption(d, s) {
				return nil, "a list of the field's options: " + optionList(d)
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return out, ""
	case "money":
		m, ok := val.(map[string]any)
		if !ok || len(m) != 2 {
			return nil, `{"amount": minor units, "currency": "RUB"}`
		}
		amount, okA := m["amount"].(float64)
		cur, okC := m["currency"].(string)
		cur = strings.ToUpper(strings.TrimSpace(cur))
		if !okA || !okC || amount != math.Trunc(amount) || math.Abs(amount) > 1<<53 || !currencyCode.MatchString(cur) {
			return nil, `{"amount": whole minor units, "currency": an ISO 4217 code such as "RUB"}`
		}
		return map[string]any{"amount": amount, "currency": cur}, ""
	case "url":
		s, ok := val.(string)
		u, err := url.Parse(strings.TrimSpace(s))
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > MaxLongText {
			return nil, "an http or https address"
		}
		return u.String(), ""
	}
	return nil, "a field of an unknown type"
}

func hasOption(d FieldDef, s string) bool {
	return slices.ContainsFunc(d.Options, func(o Option) bool { return o.Value == s })
}

func optionList(d FieldDef) string {
	vals := make([]string, len(d.Options))
	for i, o := range d.Options {
		vals[i] = o.Value
	}
	if len(vals) > 10 {
		vals = append(vals[:10], "…")
	}
	return strings.Join(vals, ", ")
}

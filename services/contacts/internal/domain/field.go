package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/customfield"
)

// Entities that carry custom fields: contacts and companies here, deals in
// the sales service (which learns their definitions from this service's
// crm.field.* events and checks deal values itself).
const (
	EntityContact = catalog.EntityContact
	EntityCompany = catalog.EntityCompany
	EntityDeal    = catalog.EntityDeal
)

// Entities lists every service's (the catalogue's).
var Entities = catalog.FieldEntities()

// FieldTypes are the kinds of value a custom field holds.
var FieldTypes = customfield.Types

// Limits of custom fields.
const (
	MaxFields      = 200
	MaxOptions     = 500
	MaxCustomText  = customfield.MaxText
	maxFieldKeyLen = 40
)

// ErrTooManyFields refuses a field beyond MaxFields (of all entities).
var ErrTooManyFields = apperr.New(apperr.KindConflict, "too-many-fields",
	fmt.Sprintf("a tenant has at most %d custom fields; delete one first", MaxFields))

var fieldKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Option is one choice of an enum or multi-enum field.
type Option = customfield.Option

// Field defines a custom field of an entity.
type Field struct {
	id        uuid.UUID
	tenantID  uuid.UUID
	f         FieldDef
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// FieldDef is what a tenant admin defines (see customfield.Def).
type FieldDef = customfield.Def

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
	fl.f = cleanDef(d, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return fl, nil
}

// clean checks what may change: label, options, position.
func cleanDef(d FieldDef, v *apperr.Invalid) FieldDef {
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
	d = cleanDef(d, &v)
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

// Money is a money value of a custom field.
type Money = customfield.Money

// CleanCustom validates custom values against the entity's field
// definitions and merges them into prev (see customfield.Clean).
func CleanCustom(defs []FieldDef, prev, values map[string]any) (map[string]any, error) {
	var v apperr.Invalid
	out := customfield.Clean(&v, defs, prev, values)
	return out, v.Err()
}

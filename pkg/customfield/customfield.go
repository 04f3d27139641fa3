// Package customfield validates the values of tenant-defined custom fields
// (text, number, date, boolean, enum, multi-enum, money, url), for every
// service whose records carry them: contacts and companies in the contacts
// service, deals in sales. The definitions themselves are the contacts
// service's (/v1/fields); other services learn them from its events.
package customfield

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

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Types are the kinds of value a custom field holds.
var Types = []string{"text", "number", "date", "boolean", "enum", "multi_enum", "money", "url"}

// Limits of values.
const (
	MaxText = 2000
	MaxURL  = 1000
)

// Option is one choice of an enum or multi-enum field.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Def is what a tenant admin defines. Entity, Key and Type are fixed once
// the field exists: values already stored depend on them.
type Def struct {
	Entity   string
	Key      string
	Label    string
	Type     string
	Required bool
	Options  []Option
	Position int
}

// Money is a money value: minor units and an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Clean validates custom values against the entity's field definitions
// and merges them into prev (nil on create): a value sets a field, null
// clears it. Every required field must hold a value afterwards. Values come
// back in canonical form (trimmed text, deduplicated choices, upper-case
// currencies), every broken rule added to v under custom/<key>.
func Clean(v *apperr.Invalid, defs []Def, prev, values map[string]any) map[string]any {
	byKey := make(map[string]Def, len(defs))
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

func cleanValue(d Def, val any) (any, string) {
	switch d.Type {
	case "text":
		s, ok := val.(string)
		s = strings.TrimSpace(s)
		if !ok || utf8.RuneCountInString(s) > MaxText {
			return nil, fmt.Sprintf("a text of at most %d characters", MaxText)
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
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > MaxURL {
			return nil, "an http or https address"
		}
		return u.String(), ""
	}
	return nil, "a field of an unknown type"
}

func hasOption(d Def, s string) bool {
	return slices.ContainsFunc(d.Options, func(o Option) bool { return o.Value == s })
}

func optionList(d Def) string {
	vals := make([]string, len(d.Options))
	for i, o := range d.Options {
		vals[i] = o.Value
	}
	if len(vals) > 10 {
		vals = append(vals[:10], "…")
	}
	return strings.Join(vals, ", ")
}

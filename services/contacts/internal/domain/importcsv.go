package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Options of an import.
const (
	ImportContacts  = "contacts"
	ImportCompanies = "companies"

	OnDuplicateSkip   = "skip"
	OnDuplicateUpdate = "update"
	OnDuplicateCreate = "create"
)

// ignoredColumns are columns an export writes that an import reads past:
// the service assigns them.
var ignoredColumns = map[string]bool{"id": true, "created_at": true, "updated_at": true}

// ImportColumns lists the columns an import of entity fills by name.
func ImportColumns(entity string, defs []FieldDef) []string {
	var cols []string
	switch entity {
	case ImportContacts:
		cols = []string{"first_name", "last_name", "emails", "phones", "position", "company_id", "lifecycle_stage",
			"source", "timezone", "address.country", "address.region", "address.city", "address.street",
			"address.postal_code", "birthday", "owner_id", "team", "tags"}
	case ImportCompanies:
		cols = []string{"name", "legal_name", "tax_id", "registration_number", "legal_address", "industry",
			"website", "phones", "emails", "owner_id", "tags"}
	}
	for _, d := range defs {
		cols = append(cols, "custom."+d.Key)
	}
	return cols
}

// ResolveHeader maps each column of header to the field it fills: the
// mapping's choice for its header, else the field of that name. A mapping
// to "" drops a column; the service's own columns (id, created_at,
// updated_at) are dropped by themselves. An unknown column, or two columns
// for one field, is an error naming the column by number and header.
func ResolveHeader(entity string, header []string, mapping map[string]string, defs []FieldDef) ([]string, error) {
	known := map[string]bool{}
	for _, c := range ImportColumns(entity, defs) {
		known[c] = true
	}
	var v apperr.Invalid
	for from, to := range mapping {
		if to != "" && !known[to] {
			v.Add("mapping/"+from, fmt.Sprintf("%q is not a field a %s import fills; fields: %s", to, entity,
				strings.Join(ImportColumns(entity, defs), ", ")))
		}
	}
	fields := make([]string, len(header))
	taken := map[string]int{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		field, mapped := mapping[name]
		switch {
		case mapped:
		case known[strings.ToLower(name)]:
			field = strings.ToLower(name)
		case ignoredColumns[strings.ToLower(name)] || name == "":
			continue
		default:
			v.Add(fmt.Sprintf("header/%d", i+1), fmt.Sprintf("unknown column %q (column %d): map it to a field with mapping, "+
				`or drop it with {%q: ""}`, name, i+1, name))
			continue
		}
		if field == "" {
			continue
		}
		if j, dup := taken[field]; dup {
			v.Add(fmt.Sprintf("header/%d", i+1), fmt.Sprintf("column %d (%q) fills %s, as column %d does", i+1, name, field, j+1))
			continue
		}
		taken[field] = i
		fields[i] = field
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(taken) == 0 {
		return nil, apperr.New(apperr.KindInvalid, "validation", "the header fills no field; the first line must name the columns")
	}
	return fields, nil
}

// CellError is a rejected value of an import: where it is and why.
type CellError struct {
	Column  string
	Message string
}

// ContactFieldsFromRow reads a record of a contacts import whose columns
// fill fields (as ResolveHeader made them). Values that cannot even be read
// (a malformed id or number) are cell errors; the rest is for NewContact to
// judge.
func ContactFieldsFromRow(fields, record []string, defs []FieldDef) (Fields, []CellError) {
	var f Fields
	var errs []CellError
	eachCell(fields, record, func(field, cell string) {
		switch field {
		case "first_name":
			f.FirstName = cell
		case "last_name":
			f.LastName = cell
		case "emails":
			f.Emails = SplitList(cell)
		case "phones":
			f.Phones = SplitList(cell)
		case "position":
			f.Position = cell
		case "company_id":
			id, err := uuid.Parse(cell)
			if err != nil {
				errs = append(errs, CellError{field, fmt.Sprintf("%q is not a company id", cell)})
			}
			f.CompanyID = id
		case "lifecycle_stage":
			f.LifecycleStage = cell
		case "source":
			f.Source = cell
		case "timezone":
			f.Timezone = cell
		case "address.country":
			f.Address.Country = cell
		case "address.region":
			f.Address.Region = cell
		case "address.city":
			f.Address.City = cell
		case "address.street":
			f.Address.Street = cell
		case "address.postal_code":
			f.Address.PostalCode = cell
		case "birthday":
			date, msg := ImportDate(cell)
			if msg != "" {
				errs = append(errs, CellError{field, msg})
			}
			f.Birthday = date
		case "owner_id":
			f.OwnerID = cell
		case "team":
			f.Team = cell
		case "tags":
			f.Tags = SplitList(cell)
		default:
			errs = customCell(&f.Custom, field, cell, defs, errs)
		}
	})
	return f, errs
}

func customCell(custom *map[string]any, field, cell string, defs []FieldDef, errs []CellError) []CellError {
	key, ok := strings.CutPrefix(field, "custom.")
	if !ok {
		return append(errs, CellError{field, "not a field of the record"})
	}
	for _, d := range defs {
		if d.Key != key {
			continue
		}
		val, msg := CustomFromCell(d, cell)
		if msg != "" {
			return append(errs, CellError{field, msg})
		}
		if *custom == nil {
			*custom = map[string]any{}
		}
		(*custom)[key] = val
		return errs
	}
	return append(errs, CellError{field, "the custom field no longer exists"})
}

// eachCell calls set with each non-empty cell of record and the field its
// column fills, skipping dropped columns. The apostrophe an export put
// before a cell that looks like a formula is taken off (RestoreFormula).
func eachCell(fields, record []string, set func(field, cell string)) {
	for i, field := range fields {
		if field == "" || i >= len(record) {
			continue
		}
		if cell := strings.TrimSpace(RestoreFormula(record[i])); cell != "" {
			set(field, cell)
		}
	}
}

// CompanyFieldsFromRow reads a record of a companies import, as
// ContactFieldsFromRow does a contact's.
func CompanyFieldsFromRow(fields, record []string, defs []FieldDef) (CompanyFields, []CellError) {
	var f CompanyFields
	var errs []CellError
	eachCell(fields, record, func(field, cell string) {
		switch field {
		case "name":
			f.Name = cell
		case "legal_name":
			f.LegalName = cell
		case "tax_id":
			f.TaxID = cell
		case "registration_number":
			f.RegistrationNumber = cell
		case "legal_address":
			f.LegalAddress = cell
		case "industry":
			f.Industry = cell
		case "website":
			f.Website = cell
		case "phones":
			f.Phones = SplitList(cell)
		case "emails":
			f.Emails = SplitList(cell)
		case "owner_id":
			f.OwnerID = cell
		case "tags":
			f.Tags = SplitList(cell)
		default:
			errs = customCell(&f.Custom, field, cell, defs, errs)
		}
	})
	return f, errs
}

// CustomFromCell reads a custom value as an export writes it (see
// transport.CustomCell): lists joined by ";" or ",", money as "<minor
// units> <currency>", dates as ImportDate reads them. The value's own rules
// are checked later, with the record's; what cannot be read at all is
// returned as a message instead.
func CustomFromCell(d FieldDef, cell string) (any, string) {
	switch d.Type {
	case "number":
		n, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(cell, " ", ""), ",", "."), 64)
		if err != nil {
			return nil, fmt.Sprintf("%q is not a number", cell)
		}
		return n, ""
	case "boolean":
		switch strings.ToLower(cell) {
		case "true", "yes", "1", "да", "истина":
			return true, ""
		case "false", "no", "0", "нет", "ложь":
			return false, ""
		}
		return nil, fmt.Sprintf("%q is not true or false", cell)
	case "date":
		date, msg := ImportDate(cell)
		if msg != "" {
			return nil, msg
		}
		return date, ""
	case "multi_enum":
		list := SplitList(cell)
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out, ""
	case "money":
		amount, currency, ok := strings.Cut(strings.TrimSpace(cell), " ")
		n, err := strconv.ParseInt(amount, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Sprintf(`%q is not an amount in minor units and a currency, e.g. "150000 RUB"`, cell)
		}
		return map[string]any{"amount": float64(n), "currency": strings.TrimSpace(currency)}, ""
	}
	return cell, ""
}

// ImportDate reads a date as spreadsheets write it: yyyy-mm-dd; dd.mm.yyyy
// or d.m.yyyy, day first, as Excel writes dates in a Russian locale; and
// with "/", which some locales write day first and others month first,
// only when the numbers tell the day from the month (25/03/1985,
// 03/25/1985). It returns the date as yyyy-mm-dd, or a message saying why
// it cannot.
func ImportDate(cell string) (string, string) {
	sep := ""
	for _, c := range []string{"-", ".", "/"} {
		if strings.Count(cell, c) == 2 {
			sep = c
			break
		}
	}
	notDate := fmt.Sprintf("%q is not a date: write it as dd.mm.yyyy (15.03.1985) or yyyy-mm-dd (1985-03-15)", cell)
	if sep == "" {
		return "", notDate
	}
	parts := strings.Split(cell, sep)
	nums := make([]int, 0, 3)
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) == 0 || len(p) > 4 || p[0] == '+' || p[0] == '-' {
			return "", notDate
		}
		nums = append(nums, n)
	}
	yearFirst := len(parts[0]) == 4
	if !yearFirst && len(parts[2]) != 4 || yearFirst && len(parts[2]) > 2 || sep == "." && yearFirst {
		return "", fmt.Sprintf("%q is not a date: write it as dd.mm.yyyy with the year in four digits (15.03.1985), "+
			"or yyyy-mm-dd (1985-03-15)", cell)
	}
	var y, m, d int
	switch {
	case yearFirst:
		y, m, d = nums[0], nums[1], nums[2]
	case sep == "-":
		return "", fmt.Sprintf("%q is not a date: with \"-\" write the year first (yyyy-mm-dd), or write dd.mm.yyyy", cell)
	case sep == ".":
		d, m, y = nums[0], nums[1], nums[2]
	case nums[0] > 12 || nums[0] == nums[1]:
		d, m, y = nums[0], nums[1], nums[2]
	case nums[1] > 12:
		m, d, y = nums[0], nums[1], nums[2]
	default:
		return "", fmt.Sprintf("%q is ambiguous: day %d of month %d, or day %d of month %d; write it as dd.mm.yyyy "+
			"(%02d.%02d.%04d for day %d of month %d) or yyyy-mm-dd", cell, nums[0], nums[1], nums[1], nums[0],
			nums[0], nums[1], nums[2], nums[0], nums[1])
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || d < 1 || t.Day() != d {
		return "", fmt.Sprintf("%q is not a date: there is no day %d of month %d in %d", cell, d, m, y)
	}
	return t.Format(time.DateOnly), ""
}

// SplitList splits a cell holding several values: by ";" as an export
// writes them, or by ",".
func SplitList(cell string) []string {
	parts := strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == ',' })
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ColumnOf is the import column a field error's path points at:
// "emails/1" is column emails, "address/city" address.city and
// "custom/tier" custom.tier.
func ColumnOf(path string) string {
	head, rest, _ := strings.Cut(path, "/")
	switch head {
	case "address", "custom":
		sub, _, _ := strings.Cut(rest, "/")
		if sub != "" {
			return head + "." + sub
		}
	}
	return head
}

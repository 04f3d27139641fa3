package transport

import (
	"context"
	"encoding/csv"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
)

// ListSeparator joins the values of a many-valued column (e-mails, phones,
// tags, shares) in a CSV cell.
const ListSeparator = "; "

// column is one CSV column: its header (the field's API name, which import
// maps by itself) and how a record fills it.
type column[T any] struct {
	name string
	cell func(T) string
}

func idCell(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

func timeCell(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ContactColumns are the columns of a contacts CSV, in order.
var ContactColumns = []column[*domain.Contact]{
	{"id", func(c *domain.Contact) string { return c.ID().String() }},
	{"first_name", func(c *domain.Contact) string { return c.Fields().FirstName }},
	{"last_name", func(c *domain.Contact) string { return c.Fields().LastName }},
	{"emails", func(c *domain.Contact) string { return strings.Join(c.Fields().Emails, ListSeparator) }},
	{"phones", func(c *domain.Contact) string { return strings.Join(c.Fields().Phones, ListSeparator) }},
	{"position", func(c *domain.Contact) string { return c.Fields().Position }},
	{"company_id", func(c *domain.Contact) string { return idCell(c.Fields().CompanyID) }},
	{"lifecycle_stage", func(c *domain.Contact) string { return c.Fields().LifecycleStage }},
	{"source", func(c *domain.Contact) string { return c.Fields().Source }},
	{"timezone", func(c *domain.Contact) string { return c.Fields().Timezone }},
	{"address.country", func(c *domain.Contact) string { return c.Fields().Address.Country }},
	{"address.region", func(c *domain.Contact) string { return c.Fields().Address.Region }},
	{"address.city", func(c *domain.Contact) string { return c.Fields().Address.City }},
	{"address.street", func(c *domain.Contact) string { return c.Fields().Address.Street }},
	{"address.postal_code", func(c *domain.Contact) string { return c.Fields().Address.PostalCode }},
	{"birthday", func(c *domain.Contact) string { return c.Fields().Birthday }},
	{"owner_id", func(c *domain.Contact) string { return c.Fields().OwnerID }},
	{"team", func(c *domain.Contact) string { return c.Fields().Team }},
	{"tags", func(c *domain.Contact) string { return strings.Join(c.Fields().Tags, ListSeparator) }},
	{"created_at", func(c *domain.Contact) string { return timeCell(c.CreatedAt()) }},
	{"updated_at", func(c *domain.Contact) string { return timeCell(c.UpdatedAt()) }},
}

// CompanyColumns are the columns of a companies CSV, in order.
var CompanyColumns = []column[*domain.Company]{
	{"id", func(c *domain.Company) string { return c.ID().String() }},
	{"name", func(c *domain.Company) string { return c.Fields().Name }},
	{"legal_name", func(c *domain.Company) string { return c.Fields().LegalName }},
	{"tax_id", func(c *domain.Company) string { return c.Fields().TaxID }},
	{"registration_number", func(c *domain.Company) string { return c.Fields().RegistrationNumber }},
	{"legal_address", func(c *domain.Company) string { return c.Fields().LegalAddress }},
	{"industry", func(c *domain.Company) string { return c.Fields().Industry }},
	{"website", func(c *domain.Company) string { return c.Fields().Website }},
	{"phones", func(c *domain.Company) string { return strings.Join(c.Fields().Phones, ListSeparator) }},
	{"emails", func(c *domain.Company) string { return strings.Join(c.Fields().Emails, ListSeparator) }},
	{"owner_id", func(c *domain.Company) string { return c.Fields().OwnerID }},
	{"tags", func(c *domain.Company) string { return strings.Join(c.Fields().Tags, ListSeparator) }},
	{"created_at", func(c *domain.Company) string { return timeCell(c.CreatedAt()) }},
	{"updated_at", func(c *domain.Company) string { return timeCell(c.UpdatedAt()) }},
}

func encodeContactsCSV(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ContactStreamResponse)
	cols := withCustom(ContactColumns, r.Fields, func(c *domain.Contact) map[string]any { return c.Fields().Custom })
	return writeCSV(ctx, w, r.Err, "contacts", cols, r.Contacts)
}

func encodeCompaniesCSV(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.CompanyStreamResponse)
	cols := withCustom(CompanyColumns, r.Fields, func(c *domain.Company) map[string]any { return c.Fields().Custom })
	return writeCSV(ctx, w, r.Err, "companies", cols, r.Companies)
}

// withCustom appends a custom.<key> column per custom field.
func withCustom[T any](base []column[T], defs []domain.FieldDef, custom func(T) map[string]any) []column[T] {
	cols := append([]column[T]{}, base...)
	for _, d := range defs {
		cols = append(cols, column[T]{"custom." + d.Key, func(rec T) string { return CustomCell(custom(rec)[d.Key]) }})
	}
	return cols
}

// CustomCell writes a custom value as import reads it back: a list joined
// by ListSeparator, money as "<minor units> <currency>", numbers without an
// exponent.
func CustomCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = CustomCell(p)
		}
		return strings.Join(parts, ListSeparator)
	case map[string]any:
		return CustomCell(x["amount"]) + " " + CustomCell(x["currency"])
	}
	return fmt.Sprint(v)
}

// writeCSV streams rows as RFC 4180 CSV in UTF-8, or, with ?format=excel,
// with a byte-order mark and ";" between cells, as Excel in Russian and
// other comma-decimal locales reads it. Either opens in a spreadsheet, so
// every cell that would run as a formula is defused (domain.DefuseFormula,
// which an import undoes). Rows are flushed as they come. An error after
// the first byte cannot become a problem any more: the connection is cut,
// so the client sees a broken download rather than a file that looks
// complete.
func writeCSV[T any](ctx context.Context, w http.ResponseWriter, failed error, name string, cols []column[T], rows iter.Seq2[T, error]) error {
	if failed != nil {
		httpkit.EncodeError(ctx, failed, w)
		return nil
	}
	excel := false
	if r, ok := ctx.Value(requestKey{}).(*http.Request); ok {
		switch f := r.URL.Query().Get("format"); f {
		case "", "csv":
		case "excel":
			excel = true
		default:
			var v apperr.Invalid
			v.Add("format", "csv or excel")
			httpkit.EncodeError(ctx, v.Err(), w)
			return nil
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.WriteHeader(http.StatusOK)
	if excel {
		_, _ = w.Write([]byte("\uFEFF"))
	}
	cw := csv.NewWriter(w)
	if excel {
		cw.Comma = ';'
	}
	record := make([]string, len(cols))
	for i, c := range cols {
		record[i] = c.name
	}
	_ = cw.Write(record)
	flusher, _ := w.(http.Flusher)
	n := 0
	for row, err := range rows {
		if err != nil {
			slog.ErrorContext(ctx, "export: reading rows failed mid-stream; cutting the download", "export", name, "rows", n, "err", err)
			cw.Flush()
			panic(http.ErrAbortHandler)
		}
		for i, c := range cols {
			record[i] = domain.DefuseFormula(c.cell(row))
		}
		if err := cw.Write(record); err != nil {
			return err // the client went away
		}
		if n++; n%1000 == 0 {
			cw.Flush()
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// requestKey carries the request into encoders that read its query.
type requestKey struct{}

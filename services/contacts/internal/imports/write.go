package imports

import (
	"slices"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/messages"
)

// write stores a prepared batch in its transaction: each row created,
// skipped or used to update the record it duplicates, as on_duplicate
// says, or rejected.
func (r *importRun) write(tx Tx, rows []preparedRow, locked chan struct{}) (domain.ImportCounts, error) {
	job := r.job
	if job.Entity == domain.ImportCompanies {
		return writeBatch(r, tx, rows, locked, importKind[*domain.Company]{
			record: func(p preparedRow) *domain.Company { return p.co },
			keys:   func(c *domain.Company) []string { return []string{c.Key()} },
			held:   tx.HeldCompanies,
			update: func(id uuid.UUID, c *domain.Company) (bool, error) { return r.updateCompany(tx, id, c) },
			create: tx.CreateCompany,
			event: func(part []*domain.Company) (string, proto.Message) {
				msg := &contactsv1.CompaniesImported{ImportId: job.ID.String(), ActorId: job.CreatedBy}
				for _, c := range part {
					msg.Companies = append(msg.Companies, messages.Company(c))
				}
				return catalog.CompaniesImported, msg
			},
		})
	}
	viewer := access.ViewerOf(job.CreatedBy, job.Team, []string{job.Role})
	rows, err := rejectUnknownCompanies(tx, rows)
	if err != nil {
		return domain.ImportCounts{}, err
	}
	return writeBatch(r, tx, rows, locked, importKind[*domain.Contact]{
		record: func(p preparedRow) *domain.Contact { return p.c },
		keys:   (*domain.Contact).Keys,
		held:   tx.HeldKeys,
		update: func(id uuid.UUID, c *domain.Contact) (bool, error) { return r.update(tx, id, c, viewer) },
		create: tx.Create,
		event: func(part []*domain.Contact) (string, proto.Message) {
			msg := &contactsv1.ContactsImported{ImportId: job.ID.String(), ActorId: job.CreatedBy}
			for _, c := range part {
				msg.Contacts = append(msg.Contacts, messages.Contact(c))
			}
			return catalog.ContactsImported, msg
		},
	})
}

// importKind is what writeBatch needs to know of the records it imports.
type importKind[T any] struct {
	record func(preparedRow) T // the row's record; nil when it was rejected
	// keys tell duplicates apart: a row duplicates the record holding any.
	keys   func(T) []string
	held   func(keys []string) (map[string]uuid.UUID, error)
	update func(existing uuid.UUID, row T) (changed bool, err error)
	create func(T)
	// event is the bulk event of created records.
	event func(part []T) (typ string, msg proto.Message)
}

// writeBatch is write for one kind of record.
func writeBatch[T comparable](r *importRun, tx Tx, rows []preparedRow, locked chan struct{}, k importKind[T]) (domain.ImportCounts, error) {
	job := r.job
	var n domain.ImportCounts
	var zero T
	var keys []string
	for _, p := range rows {
		if rec := k.record(p); rec != zero {
			keys = append(keys, k.keys(rec)...)
		}
	}
	held, err := k.held(keys)
	safeClose(locked)
	if err != nil {
		return n, err
	}
	reject := func(line int64, errs []domain.CellError) {
		for _, e := range errs {
			tx.Reject(domain.ImportError{Line: line, Column: e.Column, Message: e.Message})
		}
		n.Failed++
	}
	inBatch := map[string]bool{}
	var created []T
	for _, p := range rows {
		n.Rows++
		rec := k.record(p)
		if rec == zero {
			reject(p.line, p.errs)
			continue
		}
		var existing uuid.UUID
		dup := false
		for _, key := range k.keys(rec) {
			if id, found := held[key]; found && existing == uuid.Nil {
				existing, dup = id, true
			}
			if inBatch[key] || (job.DryRun && r.seen[r.hash(key)]) {
				dup = true
			}
		}
		switch {
		case !dup || job.OnDuplicate == domain.OnDuplicateCreate:
			created = append(created, rec)
			for _, key := range k.keys(rec) {
				inBatch[key] = true
			}
			if job.DryRun {
				r.remember(k.keys(rec))
			}
			n.Created++
		case job.OnDuplicate == domain.OnDuplicateSkip || existing == uuid.Nil:
			// A second row of one record in the file is skipped even by
			// update: the first one's record is not stored yet.
			n.Skipped++
		default:
			updated, err := k.update(existing, rec)
			switch _, isApp := apperr.As(err); {
			case isApp:
				reject(p.line, cellErrors(err))
			case err != nil:
				return n, err
			case updated:
				n.Updated++
			default:
				n.Skipped++
			}
		}
	}
	if job.DryRun {
		return n, nil
	}
	for _, rec := range created {
		k.create(rec)
	}
	for part := range slices.Chunk(created, eventSize) {
		typ, msg := k.event(part)
		ev, err := events.New(catalog.ContactsTopic, messages.Source, typ, job.TenantID, job.ID.String(), msg)
		if err != nil {
			return n, err
		}
		tx.Publish(ev)
	}
	return n, nil
}

// errInvisibleDuplicate rejects an update of a contact the importer may not see.
var errInvisibleDuplicate = apperr.New(apperr.KindConflict, "duplicate-contact",
	"the row is a duplicate of a contact you may not see; it was left unchanged")

// update applies a row to the contact it duplicates: the row's values
// replace the contact's, its e-mails, phones and tags are added to the
// contact's. It reports whether anything changed.
func (r *importRun) update(tx Tx, id uuid.UUID, row *domain.Contact, viewer domain.Viewer) (bool, error) {
	c, err := tx.Contact(id)
	if err != nil {
		return false, err
	}
	if !c.VisibleTo(viewer) {
		return false, errInvisibleDuplicate
	}
	before := c.Keys()
	p := patchFromRow(r.job.Columns, c.Fields(), row.Fields())
	changed, err := c.Apply(p, r.settings, r.w.now())
	if err != nil || len(changed) == 0 || r.job.DryRun {
		return len(changed) > 0, err
	}
	evs, err := messages.ContactUpdated(c, r.job.CreatedBy, changed)
	if err != nil {
		return false, err
	}
	return true, tx.Update(c, before, evs)
}

// patchFromRow is the patch a row makes of a contact: each field the row
// fills, lists joined.
func patchFromRow(columns []string, cur, row domain.Fields) domain.Patch {
	var p domain.Patch
	str, union := nonEmpty, joined
	p.FirstName, p.LastName, p.Position = str(row.FirstName), str(row.LastName), str(row.Position)
	p.LifecycleStage, p.Source, p.Birthday = str(row.LifecycleStage), str(row.Source), str(row.Birthday)
	p.Emails, p.Phones, p.Tags = union(cur.Emails, row.Emails), union(cur.Phones, row.Phones), union(cur.Tags, row.Tags)
	if slices.Contains(columns, "owner_id") {
		p.OwnerID = str(row.OwnerID)
	}
	if slices.Contains(columns, "team") {
		p.Team = str(row.Team)
	}
	if slices.Contains(columns, "timezone") {
		p.Timezone = str(row.Timezone)
	}
	if row.CompanyID != uuid.Nil {
		p.CompanyID = &row.CompanyID
	}
	if !row.Address.IsZero() {
		a := row.Address
		p.Address = &a
	}
	if len(row.Custom) > 0 {
		p.Custom = row.Custom
	}
	return p
}

// updateCompany applies a row to the company it duplicates: the row's
// values replace the company's; its phones, e-mails and tags are added.
func (r *importRun) updateCompany(tx Tx, id uuid.UUID, row *domain.Company) (bool, error) {
	c, err := tx.Company(id)
	if err != nil {
		return false, err
	}
	cur, f := c.Fields(), row.Fields()
	str, union := nonEmpty, joined
	p := domain.CompanyPatch{Name: str(f.Name), LegalName: str(f.LegalName), TaxID: str(f.TaxID),
		RegistrationNumber: str(f.RegistrationNumber), LegalAddress: str(f.LegalAddress), Industry: str(f.Industry),
		Website: str(f.Website), Phones: union(cur.Phones, f.Phones), Emails: union(cur.Emails, f.Emails),
		Tags: union(cur.Tags, f.Tags)}
	if slices.Contains(r.job.Columns, "owner_id") {
		p.OwnerID = str(f.OwnerID)
	}
	if len(f.Custom) > 0 {
		p.Custom = f.Custom
	}
	changed, err := c.Apply(p, r.settings, r.w.now())
	if err != nil || len(changed) == 0 || r.job.DryRun {
		return len(changed) > 0, err
	}
	evs, err := messages.CompanyUpdated(c, r.job.CreatedBy, changed)
	if err != nil {
		return false, err
	}
	return true, tx.UpdateCompany(c, evs)
}

// nonEmpty is a patch of a value a row gives: nil (leave alone) when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// joined is a patch of a list a row adds to: a and the values of b it
// lacks, or nil (leave alone) when b is empty.
func joined(a, b []string) *[]string {
	if len(b) == 0 {
		return nil
	}
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return &out
}

// rejectUnknownCompanies rejects the rows whose company_id names no company
// of the tenant: a row's mistake, which must not fail its whole batch.
func rejectUnknownCompanies(tx Tx, rows []preparedRow) ([]preparedRow, error) {
	var ids []uuid.UUID
	for _, p := range rows {
		if p.c != nil && p.c.Fields().CompanyID != uuid.Nil {
			ids = append(ids, p.c.Fields().CompanyID)
		}
	}
	if len(ids) == 0 {
		return rows, nil
	}
	known, err := tx.KnownCompanies(ids)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(rows)
	for i, p := range out {
		if p.c != nil && p.c.Fields().CompanyID != uuid.Nil && !known[p.c.Fields().CompanyID] {
			out[i].c = nil
			out[i].errs = []domain.CellError{{Column: "company_id", Message: "no company of the tenant has this id"}}
		}
	}
	return out, nil
}

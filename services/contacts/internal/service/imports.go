package service

import (
	"bufio"
	"context"
	"errors"
	"io"
	"slices"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// TypeImported is the bulk event of the contacts an import created.
const TypeImported = catalog.ContactsImported

// ImportRequest starts an import of a CSV body.
type ImportRequest struct {
	Entity      string
	OnDuplicate string
	DryRun      bool
	// Mapping maps CSV headers to fields ("" drops the column).
	Mapping map[string]string
	// Encoding is the file's as the client states it; "" has it detected.
	Encoding string
	Body     io.Reader
}

// ImportRepository stores import jobs as clients start and read them (the
// worker's side is imports.Jobs).
type ImportRepository interface {
	// Upload stores the job and its file in one transaction; rowsTotal
	// runs after the body's end and may settle job.Encoding, which is
	// stored with the count.
	Upload(ctx context.Context, job *domain.ImportJob, body io.Reader, rowsTotal func() (int64, error)) error
	Get(ctx context.Context, tenantID, id uuid.UUID) (*domain.ImportJob, error)
	Errors(ctx context.Context, tenantID, id uuid.UUID, fn func(domain.ImportError) error) error
}

// Imports are the CSV imports as clients start and read them.
type Imports interface {
	// StartImport stores a CSV file and queues its import; GetImport and
	// ImportErrors report on it. The import engine (package imports) runs
	// the jobs, with the tenant's ImportSettings (a method of Service, not
	// of Imports: the engine, not an endpoint, calls it).
	StartImport(ctx context.Context, req ImportRequest) (*domain.ImportJob, error)
	GetImport(ctx context.Context, id uuid.UUID) (*domain.ImportJob, error)
	ImportErrors(ctx context.Context, id uuid.UUID, fn func(domain.ImportError) error) error
}

// ErrImportEntity refuses an import of an entity that has none.
func errImportOption(param, msg string) error {
	var v apperr.Invalid
	v.Add(param, msg)
	return v.Err()
}

// StartImport stores the file of an import and queues the job. The file's
// encoding, delimiter and header are checked first, so a file that cannot
// be read at all is refused at once and stores nothing.
func (s *Service) StartImport(ctx context.Context, req ImportRequest) (*domain.ImportJob, error) {
	p, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if s.imports == nil {
		return nil, errors.New("imports: no repository")
	}
	switch req.Entity {
	case domain.ImportContacts, domain.ImportCompanies:
	default:
		return nil, errImportOption("entity", `"contacts" or "companies"`)
	}
	if req.OnDuplicate == "" {
		req.OnDuplicate = domain.OnDuplicateSkip
	}
	if !slices.Contains([]string{domain.OnDuplicateSkip, domain.OnDuplicateUpdate, domain.OnDuplicateCreate}, req.OnDuplicate) {
		return nil, errImportOption("on_duplicate", `"skip", "update" or "create"`)
	}
	settings, err := s.settingsFor(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	if err := s.roomForImport(ctx, p.TenantID, req, settings.ContactsQuota); err != nil {
		return nil, err
	}
	body := bufio.NewReaderSize(req.Body, domain.HeadSize)
	first, err := body.Peek(domain.HeadSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	head, err := domain.ReadImportHead(first, len(first) < domain.HeadSize, req.Encoding)
	if err != nil {
		return nil, err
	}
	header := head.Header
	defs := settings.ContactFields
	if req.Entity == domain.ImportCompanies {
		defs = settings.CompanyFields
	}
	columns, err := domain.ResolveHeader(req.Entity, header, req.Mapping, defs)
	if err != nil {
		return nil, err
	}
	if p.IsAPIKey() && !slices.Contains(columns, "owner_id") {
		// Rows without an owner take the importer's, and a key is no user.
		if _, err := auth.DefaultOwner(p, "owner_id"); err != nil {
			return nil, err
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	job := &domain.ImportJob{ID: id, TenantID: p.TenantID, Entity: req.Entity, OnDuplicate: req.OnDuplicate,
		DryRun: req.DryRun, Encoding: head.Encoding, Delimiter: head.Delimiter, Columns: columns, CreatedBy: p.UserID,
		Role: access.StrongestWriter(p.Roles), Team: p.Team, CreatedAt: now, UpdatedAt: now}
	// The file is read as the worker will read it while it streams into the
	// database: that counts its records and, without a byte-order mark or a
	// stated encoding, decides the encoding from every line, not the first.
	pr, pw := io.Pipe()
	type scan struct {
		rows     int64
		encoding string
		err      error
	}
	scanned := make(chan scan, 1)
	go func() {
		var sc scan
		sc.rows, sc.encoding, sc.err = domain.ScanImportFile(pr, head)
		_, _ = io.Copy(io.Discard, pr)
		scanned <- sc
	}()
	var upErr error
	defer func() { pw.CloseWithError(upErr) }()
	upErr = s.imports.Upload(ctx, job, io.TeeReader(body, pw), func() (int64, error) {
		_ = pw.Close()
		sc := <-scanned
		job.Encoding = sc.encoding
		return sc.rows, sc.err
	})
	if upErr != nil {
		return nil, upErr
	}
	s.importQueued()
	return job, nil
}

// roomForImport refuses, before the file is stored, an import of contacts
// into a tenant that already holds as many as its quota allows: every row
// it could store would be refused (a row that duplicates nothing creates a
// contact even with on_duplicate=update). An update may still touch only
// existing contacts, and a dry run writes nothing: those go ahead. The
// worker checks the quota again with every batch it writes.
func (s *Service) roomForImport(ctx context.Context, tenant uuid.UUID, req ImportRequest, quota int64) error {
	if quota <= 0 || req.Entity != domain.ImportContacts || req.DryRun || req.OnDuplicate == domain.OnDuplicateUpdate {
		return nil
	}
	n, err := s.repo.LiveContacts(ctx, tenant)
	if err != nil || n < quota {
		return err
	}
	return domain.ErrQuotaExceeded(quota, n, 0)
}

// GetImport reads an import; only its author and admins see it.
func (s *Service) GetImport(ctx context.Context, id uuid.UUID) (*domain.ImportJob, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.imports.Get(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if j.CreatedBy != p.UserID && !p.HasRole(auth.RoleAdmin) {
		return nil, domain.ErrImportNotFound
	}
	return j, nil
}

// ImportErrors calls fn with every rejected row of an import.
func (s *Service) ImportErrors(ctx context.Context, id uuid.UUID, fn func(domain.ImportError) error) error {
	j, err := s.GetImport(ctx, id)
	if err != nil {
		return err
	}
	return s.imports.Errors(ctx, j.TenantID, j.ID, fn)
}

// ImportSettings are the tenant's settings as the import worker reads them:
// its record's defaults and quota, its custom fields and lead sources.
func (s *Service) ImportSettings(ctx context.Context, tenant uuid.UUID) (domain.Settings, error) {
	return s.settingsFor(ctx, tenant)
}

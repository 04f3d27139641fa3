package domain

import (
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Statuses of an import job.
const (
	ImportUploading = "uploading" // never seen: the upload's transaction has not committed
	ImportQueued    = "queued"
	ImportRunning   = "running"
	ImportDone      = "done"
	ImportFailed    = "failed"
)

// ImportJob is a CSV import: its options, what was detected of the file and
// how far it got.
type ImportJob struct {
	ID, TenantID uuid.UUID
	Entity       string
	OnDuplicate  string
	DryRun       bool
	Encoding     string
	Delimiter    rune
	// Columns are the field each column of the file fills ("" for none).
	Columns []string
	Status  string
	Bytes   int64
	// RowsTotal counts the records after the header; RowsDone those handled.
	RowsTotal, RowsDone               int64
	Created, Updated, Skipped, Failed int64
	Error                             string
	CreatedBy, Role, Team             string
	// Attempts counts the times a worker took the job.
	Attempts                         int
	CreatedAt, UpdatedAt, FinishedAt time.Time
}

// ImportCounts are what a batch of an import did, added to its job's.
type ImportCounts struct {
	Rows, Created, Updated, Skipped, Failed int64
}

// Add adds c to the job's counters.
func (j *ImportJob) Add(c ImportCounts) {
	j.RowsDone += c.Rows
	j.Created += c.Created
	j.Updated += c.Updated
	j.Skipped += c.Skipped
	j.Failed += c.Failed
}

// ImportError is one rejected row of an import, at a line of the file (the
// header is line 1) and a column (its header; "" for the whole row).
type ImportError struct {
	Line    int64
	Column  string
	Message string
}

// ErrImportNotFound answers for an unknown import and another tenant's.
var ErrImportNotFound = apperr.NotFound("import")

package transport

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// MaxImportBytes is the largest CSV file an import takes (about five
// million contacts); a larger one is refused with 413 before it is stored.
const MaxImportBytes = 512 << 20

// ImportRoutes registers the import API on mux.
func ImportRoutes(mux *http.ServeMux, e endpoint.ImportEndpoints) {
	handle := httpkit.NewEndpoints(mux, QueryParams).Handle
	handle("POST /v1/imports", e.Start, decodeStartImport, encodeImport)
	handle("GET /v1/imports/{id}", e.Get, decodeGet(domain.ErrImportNotFound), encodeImport)
	handle("GET /v1/imports/{id}/errors", e.Errors, decodeGet(domain.ErrImportNotFound), encodeImportErrors)
}

// csvTypes are the media types a CSV upload may declare; none at all is
// taken as CSV too.
var csvTypes = map[string]bool{"text/csv": true, "application/csv": true, "text/plain": true,
	"application/vnd.ms-excel": true, "application/octet-stream": true}

func decodeStartImport(_ context.Context, r *http.Request) (any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !csvTypes[mt] {
			return nil, apperr.New(apperr.KindUnsupportedMediaType, "unsupported-media-type",
				"an import takes a CSV file: send it as text/csv")
		}
	}
	qs := r.URL.Query()
	var v apperr.Invalid
	// The Content-Type's charset is not read: clients send charset=utf-8
	// out of habit with files in any encoding. encoding= states it.
	req := service.ImportRequest{Entity: qs.Get("entity"), OnDuplicate: qs.Get("on_duplicate"), Encoding: qs.Get("encoding"),
		Body: r.Body}
	dry, err := httpkit.ParseBool(r, "dry_run")
	if err != nil {
		return nil, err
	}
	req.DryRun = dry
	if m := qs.Get("mapping"); m != "" {
		if err := json.Unmarshal([]byte(m), &req.Mapping); err != nil {
			v.Add("mapping", `a JSON object from CSV header to field, e.g. {"Имя":"first_name"}`)
		}
	}
	return endpoint.ImportRequest{Request: req}, v.Err()
}

func importView(j *domain.ImportJob) map[string]any {
	view := map[string]any{"id": j.ID, "entity": j.Entity, "status": j.Status, "on_duplicate": j.OnDuplicate,
		"dry_run": j.DryRun, "encoding": j.Encoding, "delimiter": string(j.Delimiter), "columns": j.Columns,
		"bytes": j.Bytes, "rows_total": j.RowsTotal, "rows_done": j.RowsDone, "created": j.Created,
		"updated": j.Updated, "skipped": j.Skipped, "failed": j.Failed, "created_by": j.CreatedBy,
		"created_at": j.CreatedAt.UTC().Format(time.RFC3339Nano), "updated_at": j.UpdatedAt.UTC().Format(time.RFC3339Nano)}
	if j.Error != "" {
		view["error"] = j.Error
	}
	if !j.FinishedAt.IsZero() {
		view["finished_at"] = j.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	return view
}

func encodeImport(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ImportResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	if r.Started {
		w.Header().Set("Location", "/v1/imports/"+r.Job.ID.String())
		return httpkit.WriteJSON(w, http.StatusAccepted, importView(r.Job))
	}
	return httpkit.WriteJSON(w, http.StatusOK, importView(r.Job))
}

// encodeImportErrors streams the rejected rows as CSV: line, column,
// message; the header is line 1 of the file. Messages quote the file's
// cells, so they are defused as an export's cells are.
func encodeImportErrors(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ImportErrorsResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-`+r.Job.ID.String()+`-errors.csv"`)
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"line", "column", "message"}); err != nil {
		return err
	}
	err := r.Each(func(e domain.ImportError) error {
		return cw.Write([]string{strconv.FormatInt(e.Line, 10), domain.DefuseFormula(e.Column), domain.DefuseFormula(e.Message)})
	})
	cw.Flush()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	return cw.Error()
}

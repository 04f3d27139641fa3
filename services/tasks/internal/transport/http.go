// Package transport serves the tasks endpoints over HTTP/JSON with go-kit.
// Errors are rendered by httpkit.EncodeError, the one place kinds map to
// status codes.
package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/endpoint"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// QueryParams are the query parameters each route takes (OpenAPI lists the
// same); a route not named takes none.
var QueryParams = map[string][]string{
	"GET /v1/tasks": {"limit", "cursor"},
}

// Routes registers the tasks API on mux.
func Routes(mux *http.ServeMux, e endpoint.Endpoints) {
	r := httpkit.NewEndpoints(mux, QueryParams)
	r.Handle("GET /v1/tasks", e.ListTasks, decodeListTasks, encodeTasks)
}

// cursor is where a page ends.
type cursor struct {
	After uuid.UUID `json:"a"`
}

func decodeListTasks(_ context.Context, r *http.Request) (any, error) {
	limit, err := httpkit.ParseLimit(r, 50, 200)
	if err != nil {
		return nil, err
	}
	q := service.Query{Limit: limit}
	if s := r.URL.Query().Get("cursor"); s != "" {
		var c cursor
		if err := httpkit.DecodeCursor(s, &c); err != nil {
			return nil, err
		}
		q.After = c.After
	}
	return endpoint.ListTasksRequest{Query: q}, nil
}

// taskView is a task's JSON.
type taskView struct {
	ID        uuid.UUID  `json:"id"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"`
	DueAt     *time.Time `json:"due_at"`
	OwnerID   string     `json:"owner_id"`
	Team      string     `json:"team"`
	Version   int64      `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func viewOf(t *domain.Task) taskView {
	return taskView{ID: t.ID(), Subject: t.Subject(), Status: t.Status(), DueAt: t.DueAt(), OwnerID: t.OwnerID(), Team: t.Team(),
		Version: t.Version(), CreatedAt: t.CreatedAt(), UpdatedAt: t.UpdatedAt()}
}

func encodeTasks(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListTasksResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	page := httpkit.Page[taskView]{Items: make([]taskView, 0, len(r.Page.Tasks))}
	for _, t := range r.Page.Tasks {
		page.Items = append(page.Items, viewOf(t))
	}
	if r.Page.More {
		page.NextCursor = httpkit.EncodeCursor(cursor{After: r.Page.Tasks[len(r.Page.Tasks)-1].ID()})
	}
	return httpkit.EncodeJSON(ctx, w, page)
}

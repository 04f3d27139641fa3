// Package transport serves the tasks endpoints over HTTP/JSON with go-kit.
// Errors are rendered by httpkit.EncodeError, the one place kinds map to
// status codes.
package transport

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/ids"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/endpoint"
	"github.com/rapportcrm/rapport/services/tasks/internal/service"
)

// QueryParams are the query parameters each route takes (OpenAPI lists the
// same); a route not named takes none.
var QueryParams = map[string][]string{
	"GET /v1/tasks":        {"limit", "cursor", "owner_id", "deal_id", "contact_id", "status", "kind", "due_from", "due_to", "overdue"},
	"GET /v1/tasks/agenda": {"owner_id", "time_zone"},
	"GET /v1/outcomes":     {"archived"},
	"GET /v1/tasks/next":   {"device"},
	"GET /v1/tasks/load":   {"user", "from", "to"},
	"GET /v1/tasks/slots":  {"user", "from", "count"},
}

// Routes registers the tasks API on mux.
func Routes(mux *http.ServeMux, e endpoint.Endpoints) {
	r := httpkit.NewEndpoints(mux, QueryParams)
	r.Handle("GET /v1/tasks", e.ListTasks, decodeListTasks, encodeTasks)
	r.Handle("POST /v1/tasks", e.CreateTask, decodeCreateTask, httpkit.EncodeCreated("/v1/tasks", encodeTask, (*domain.Task).ID))
	r.Handle("GET /v1/tasks/agenda", e.Agenda, decodeAgenda, httpkit.Encode(http.StatusOK, encodeAgenda))
	r.Handle("GET /v1/tasks/{id}", e.GetTask, httpkit.DecodeRef(domain.ErrTaskNotFound), httpkit.Encode(http.StatusOK, encodeTask))
	r.Handle("PATCH /v1/tasks/{id}", e.UpdateTask, decodeUpdateTask, httpkit.Encode(http.StatusOK, encodeTask))
	r.Handle("POST /v1/tasks/{id}/complete", e.CompleteTask, decodeCloseTask, httpkit.Encode(http.StatusOK, encodeClosed))
	r.Handle("POST /v1/tasks/{id}/cancel", e.CancelTask, decodeCloseTask, httpkit.Encode(http.StatusOK, encodeClosed))
	r.Handle("DELETE /v1/tasks/{id}", e.DeleteTask, httpkit.DecodeRef(domain.ErrTaskNotFound), httpkit.EncodeDone)
	configRoutes(r, e)
	r.Handle("GET /v1/tasks/next", e.Next, decodeNext, httpkit.Encode(http.StatusOK, encodeServed))
	r.Handle("GET /v1/tasks/load", e.Load, decodeLoad, httpkit.Encode(http.StatusOK, encodeLoad))
	r.Handle("GET /v1/tasks/slots", e.Slots, decodeLoad, httpkit.Encode(http.StatusOK, encodeLoad))
}

func decodeNext(_ context.Context, r *http.Request) (any, error) {
	return endpoint.NextRequest{Device: r.URL.Query().Get("device")}, nil
}

// decodeLoad reads a load's or the slots' query: the user (the caller by
// default), from (now) and to (a day on), or how many free hours (3).
func decodeLoad(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	var v apperr.Invalid
	req := endpoint.LoadRequest{User: strings.TrimSpace(q.Get("user")), From: time.Now().UTC(), Count: 3}
	if from := timeParam(&v, "from", q.Get("from")); from != nil {
		req.From = *from
	}
	req.To = req.From.Add(24 * time.Hour)
	if to := timeParam(&v, "to", q.Get("to")); to != nil {
		req.To = *to
	}
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			v.Add("count", "must be a whole number from 1 to 20")
		}
		req.Count = n
	}
	return req, v.Err()
}

// servedView is the next task and how long it is the device's.
type servedView struct {
	Task         *taskView  `json:"task"`
	ClaimedUntil *time.Time `json:"claimed_until"`
}

func encodeServed(s endpoint.Served) (any, int64) {
	if s.Task == nil {
		return servedView{}, 0
	}
	t := viewOf(s.Task)
	return servedView{Task: &t, ClaimedUntil: &s.Until}, 0
}

// loadView is a user's tasks per hour.
type loadView struct {
	UserID          string     `json:"user_id"`
	TimeZone        string     `json:"time_zone"`
	CapacityPerHour int        `json:"capacity_per_hour"`
	Hours           []hourView `json:"hours"`
}

type hourView struct {
	Start   time.Time `json:"start"`
	Tasks   int       `json:"tasks"`
	Working bool      `json:"working"`
	// Free is how many more tasks the hour holds; null without a limit.
	Free *int `json:"free"`
}

func encodeLoad(l service.Load) (any, int64) {
	v := loadView{UserID: l.UserID, TimeZone: l.TimeZone, CapacityPerHour: l.Capacity, Hours: make([]hourView, 0, len(l.Hours))}
	for _, h := range l.Hours {
		hv := hourView{Start: h.Start, Tasks: h.Tasks, Working: h.Working}
		if l.Capacity > 0 {
			free := max(0, l.Capacity-h.Tasks)
			hv.Free = &free
		}
		v.Hours = append(v.Hours, hv)
	}
	return v, 0
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
	values := r.URL.Query()
	if c := values.Get("cursor"); c != "" {
		var cur cursor
		if err := httpkit.DecodeCursor(c, &cur); err != nil {
			return nil, err
		}
		q.After = cur.After
	}
	var v apperr.Invalid
	oneOf := func(name string, allowed []string) string {
		x := values.Get(name)
		if x != "" && !slices.Contains(allowed, x) {
			v.Add(name, "must be one of "+strings.Join(allowed, ", "))
		}
		return x
	}
	q.OwnerID = strings.TrimSpace(values.Get("owner_id"))
	q.DealID = httpkit.OptionalID(&v, "deal_id", values.Get("deal_id"))
	q.ContactID = httpkit.OptionalID(&v, "contact_id", values.Get("contact_id"))
	q.Status = oneOf("status", []string{domain.StatusOpen, domain.StatusDone, domain.StatusCancelled})
	// The tenant's own kinds too: an unknown one lists nothing.
	if q.Kind = values.Get("kind"); q.Kind != "" && !domain.IsKey(q.Kind) {
		v.Add("kind", "must be a kind such as call, meeting, email, visit, todo or one of the tenant's own")
	}
	q.DueFrom = timeParam(&v, "due_from", values.Get("due_from"))
	q.DueTo = timeParam(&v, "due_to", values.Get("due_to"))
	switch values.Get("overdue") {
	case "", "false":
	case "true":
		q.Overdue = true
	default:
		v.Add("overdue", "must be true or false")
	}
	return endpoint.ListTasksRequest{Query: q}, v.Err()
}

func decodeAgenda(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	return endpoint.AgendaRequest{OwnerID: strings.TrimSpace(q.Get("owner_id")), TimeZone: q.Get("time_zone")}, nil
}

// agendaView is a day plan's JSON.
type agendaView struct {
	TimeZone string    `json:"time_zone"`
	Now      time.Time `json:"now"`
	Overdue  int64     `json:"overdue"`
	Today    int64     `json:"today"`
	Tomorrow int64     `json:"tomorrow"`
	ThisWeek int64     `json:"this_week"`
	Later    int64     `json:"later"`
	Undated  int64     `json:"undated"`
}

func encodeAgenda(a service.Agenda) (any, int64) {
	return agendaView{TimeZone: a.TimeZone, Now: a.Now, Overdue: a.Overdue, Today: a.Today, Tomorrow: a.Tomorrow,
		ThisWeek: a.ThisWeek, Later: a.Later, Undated: a.Undated}, 0
}

// timeParam reads an RFC 3339 time such as 2027-01-15T09:00:00+03:00.
func timeParam(v *apperr.Invalid, name, s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.Add(name, "must be a time such as 2027-01-15T09:00:00+03:00")
		return nil
	}
	return &t
}

// taskBody is a task's JSON members; absent ones are left alone, and null
// clears what may be cleared.
type taskBody struct {
	Kind            httpkit.Nullable[string] `json:"kind"`
	Subject         httpkit.Nullable[string] `json:"subject"`
	Note            httpkit.Nullable[string] `json:"note"`
	DueAt           httpkit.Nullable[string] `json:"due_at"`
	DueDate         httpkit.Nullable[string] `json:"due_date"`
	DurationMinutes httpkit.Nullable[int]    `json:"duration_minutes"`
	Priority        httpkit.Nullable[string] `json:"priority"`
	OwnerID         httpkit.Nullable[string] `json:"owner_id"`
	Team            httpkit.Nullable[string] `json:"team"`
	DealID          httpkit.Nullable[string] `json:"deal_id"`
	ContactID       httpkit.Nullable[string] `json:"contact_id"`
	CompanyID       httpkit.Nullable[string] `json:"company_id"`
	// DueLocal is the due time in the client's local time (2027-01-15T10:00).
	DueLocal httpkit.Nullable[string] `json:"due_local"`
}

// patch reads the body as a change, collecting what cannot be read.
func (b taskBody) patch() (domain.TaskPatch, []apperr.FieldError) {
	var v apperr.Invalid
	notNull := func(name string, n bool) {
		if n {
			v.Add(name, "must not be null")
		}
	}
	notNull("kind", b.Kind.Null)
	notNull("subject", b.Subject.Null)
	notNull("priority", b.Priority.Null)
	notNull("owner_id", b.OwnerID.Null)
	notNull("duration_minutes", b.DurationMinutes.Null)
	p := domain.TaskPatch{Kind: b.Kind.Ptr(), Subject: b.Subject.Ptr(), Note: b.Note.Ptr(), Priority: b.Priority.Ptr(),
		OwnerID: b.OwnerID.Ptr(), Team: b.Team.Ptr(), DurationMinutes: b.DurationMinutes.Ptr()}
	if b.Note.Null {
		empty := ""
		p.Note = &empty
	}
	if b.Team.Null {
		empty := ""
		p.Team = &empty
	}
	if b.DueAt.Set {
		p.DueAt = &domain.DueAt{None: true}
		if !b.DueAt.Null {
			if at := timeParam(&v, "due_at", b.DueAt.Value); at != nil {
				p.DueAt = &domain.DueAt{At: *at}
			}
		}
	}
	if b.DueDate.Set {
		d := b.DueDate.Value // null: no date
		p.DueDate = &d
	}
	p.DealID = httpkit.PatchID(&v, "deal_id", b.DealID)
	p.ContactID = httpkit.PatchID(&v, "contact_id", b.ContactID)
	p.CompanyID = httpkit.PatchID(&v, "company_id", b.CompanyID)
	var fields []apperr.FieldError
	if e, ok := apperr.As(v.Err()); ok {
		fields = e.Fields
	}
	return p, fields
}

func decodeCreateTask(_ context.Context, r *http.Request) (any, error) {
	var b taskBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.CreateTaskRequest{In: b.input()}, nil
}

// input reads the body as a new task.
func (b taskBody) input() service.TaskInput {
	p, invalid := b.patch()
	f := domain.TaskFields{}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	f.Kind, f.Subject, f.Note, f.Priority = deref(p.Kind), deref(p.Subject), deref(p.Note), deref(p.Priority)
	f.OwnerID, f.Team, f.DueDate = deref(p.OwnerID), deref(p.Team), deref(p.DueDate)
	if p.DueAt != nil && !p.DueAt.None {
		at := p.DueAt.At
		f.DueAt = &at
	}
	if p.DurationMinutes != nil {
		f.DurationMinutes = *p.DurationMinutes
	}
	id := func(p *uuid.UUID) uuid.UUID {
		if p == nil {
			return uuid.Nil
		}
		return *p
	}
	f.DealID, f.ContactID, f.CompanyID = id(p.DealID), id(p.ContactID), id(p.CompanyID)
	return service.TaskInput{Fields: f, DueLocal: b.DueLocal.Value, Invalid: invalid}
}

func decodeUpdateTask(_ context.Context, r *http.Request) (any, error) {
	ref, b, err := httpkit.PathRefBody[taskBody](r, domain.ErrTaskNotFound)
	if err != nil {
		return nil, err
	}
	p, invalid := b.patch()
	return endpoint.UpdateTaskRequest{Ref: ref, In: service.PatchInput{Patch: p, DueLocal: b.DueLocal.Value, Invalid: invalid}}, nil
}

// closeBody is a completion's or a cancellation's JSON members.
type closeBody struct {
	Outcome    string                   `json:"outcome"`
	Result     string                   `json:"result"`
	CallbackAt httpkit.Nullable[string] `json:"callback_at"`
	Next       *taskBody                `json:"next"`
}

// decodeCloseTask reads a completion or a cancellation; the body is optional.
func decodeCloseTask(_ context.Context, r *http.Request) (any, error) {
	ref, err := httpkit.PathRef(r, domain.ErrTaskNotFound)
	if err != nil {
		return nil, err
	}
	var b closeBody
	if err := httpkit.DecodeOptionalJSON(r, &b); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	in := service.CloseInput{Outcome: b.Outcome, Result: b.Result}
	if b.CallbackAt.Set && !b.CallbackAt.Null {
		in.CallbackAt = timeParam(&v, "callback_at", b.CallbackAt.Value)
	}
	if b.Next != nil {
		in.Next = &service.TaskInput{}
		*in.Next = b.Next.input()
		for _, f := range in.Next.Invalid {
			v.Add("next/"+f.Field, f.Message)
		}
		in.Next.Invalid = nil
	}
	in.Invalid = fieldsOf(&v)
	return endpoint.CloseTaskRequest{Ref: ref, In: in}, nil
}

// closedView is a closed task and what its outcome planned.
type closedView struct {
	Task              taskView  `json:"task"`
	Next              *taskView `json:"next"`
	AttemptsExhausted bool      `json:"attempts_exhausted"`
	Warnings          []string  `json:"warnings"`
}

func encodeClosed(c service.Closed) (any, int64) {
	v := closedView{Task: viewOf(c.Task), AttemptsExhausted: c.AttemptsExhausted, Warnings: c.Warnings}
	if v.Warnings == nil {
		v.Warnings = []string{}
	}
	if c.Next != nil {
		n := viewOf(c.Next)
		v.Next = &n
	}
	return v, c.Task.Version()
}

// taskView is a task's JSON.
type taskView struct {
	ID              uuid.UUID  `json:"id"`
	Kind            string     `json:"kind"`
	Subject         string     `json:"subject"`
	Note            string     `json:"note"`
	DueAt           *time.Time `json:"due_at"`
	DueDate         *string    `json:"due_date"`
	DurationMinutes int        `json:"duration_minutes"`
	Priority        string     `json:"priority"`
	OwnerID         string     `json:"owner_id"`
	Team            string     `json:"team"`
	Status          string     `json:"status"`
	Outcome         string     `json:"outcome"`
	Result          string     `json:"result"`
	ClosedBy        string     `json:"closed_by"`
	ClosedAt        *time.Time `json:"closed_at"`
	DealID          *uuid.UUID `json:"deal_id"`
	ContactID       *uuid.UUID `json:"contact_id"`
	CompanyID       *uuid.UUID `json:"company_id"`
	PreviousTaskID  *uuid.UUID `json:"previous_task_id"`
	Attempt         int        `json:"attempt"`
	Client          *client    `json:"client"`
	Version         int64      `json:"version"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// client is the client's time: its zone, and the due time there.
type client struct {
	TimeZone string  `json:"time_zone"`
	DueLocal *string `json:"due_local"`
}

func viewOf(t *domain.Task) taskView {
	f := t.Fields()
	v := taskView{ID: t.ID(), Kind: f.Kind, Subject: f.Subject, Note: f.Note, DueAt: f.DueAt, DurationMinutes: f.DurationMinutes,
		Priority: f.Priority, OwnerID: f.OwnerID, Team: f.Team, Status: t.Status(), Outcome: t.Outcome(), Result: t.Result(),
		ClosedBy: t.ClosedBy(), ClosedAt: t.ClosedAt(), Version: t.Version(), CreatedAt: t.CreatedAt(), UpdatedAt: t.UpdatedAt()}
	if f.DueDate != "" {
		d := f.DueDate
		v.DueDate = &d
	}
	v.DealID, v.ContactID, v.CompanyID = ids.Ptr(f.DealID), ids.Ptr(f.ContactID), ids.Ptr(f.CompanyID)
	chain := t.Chain()
	v.PreviousTaskID, v.Attempt = ids.Ptr(chain.PreviousID), chain.Attempt
	if zone := t.ClientZone(); zone != "" {
		v.Client = &client{TimeZone: zone}
		if loc, err := time.LoadLocation(zone); err == nil && f.DueAt != nil {
			local := f.DueAt.In(loc).Format("2006-01-02T15:04")
			v.Client.DueLocal = &local
		}
	}
	return v
}

func encodeTask(t *domain.Task) (any, int64) { return viewOf(t), t.Version() }

func encodeTasks(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(httpkit.Response[service.Page])
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	page := httpkit.Page[taskView]{Items: make([]taskView, 0, len(r.Value.Tasks))}
	for _, t := range r.Value.Tasks {
		page.Items = append(page.Items, viewOf(t))
	}
	if r.Value.More {
		page.NextCursor = httpkit.EncodeCursor(cursor{After: r.Value.Tasks[len(r.Value.Tasks)-1].ID()})
	}
	return httpkit.EncodeJSON(ctx, w, page)
}

package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
	"github.com/rapportcrm/rapport/services/tasks/internal/endpoint"
)

// configRoutes registers the outcomes, calendars and settings.
func configRoutes(r httpkit.Endpoints, e endpoint.Endpoints) {
	r.Handle("GET /v1/outcomes", e.ListOutcomes, decodeListOutcomes, httpkit.Encode(http.StatusOK, encodeOutcomes))
	r.Handle("POST /v1/outcomes", e.CreateOutcome, decodeCreateOutcome,
		httpkit.EncodeCreated("/v1/outcomes", encodeOutcome, (*domain.Outcome).ID))
	r.Handle("GET /v1/outcomes/{id}", e.GetOutcome, httpkit.DecodeRef(domain.ErrOutcomeNotFound), httpkit.Encode(http.StatusOK, encodeOutcome))
	r.Handle("PATCH /v1/outcomes/{id}", e.UpdateOutcome, decodeUpdateOutcome, httpkit.Encode(http.StatusOK, encodeOutcome))

	r.Handle("GET /v1/calendars", e.ListCalendars, decodeNothing, httpkit.Encode(http.StatusOK, encodeCalendars))
	r.Handle("POST /v1/calendars", e.CreateCalendar, decodeCreateCalendar,
		httpkit.EncodeCreated("/v1/calendars", encodeCalendar, (*domain.WorkCalendar).ID))
	r.Handle("GET /v1/calendars/{id}", e.GetCalendar, httpkit.DecodeRef(domain.ErrCalendarNotFound), httpkit.Encode(http.StatusOK, encodeCalendar))
	r.Handle("PUT /v1/calendars/{id}", e.ReplaceCalendar, decodeReplaceCalendar, httpkit.Encode(http.StatusOK, encodeCalendar))
	r.Handle("DELETE /v1/calendars/{id}", e.DeleteCalendar, httpkit.DecodeRef(domain.ErrCalendarNotFound), httpkit.EncodeDone)

	r.Handle("GET /v1/tasks/settings", e.GetSettings, decodeNothing, httpkit.Encode(http.StatusOK, encodeSettings))
	r.Handle("PATCH /v1/tasks/settings", e.UpdateSettings, decodeUpdateSettings, httpkit.Encode(http.StatusOK, encodeSettings))
}

func decodeNothing(context.Context, *http.Request) (any, error) { return nil, nil }

// fieldsOf are a validation problem's fields (none for nil).
func fieldsOf(v *apperr.Invalid) []apperr.FieldError {
	if e, ok := apperr.As(v.Err()); ok {
		return e.Fields
	}
	return nil
}

func decodeListOutcomes(_ context.Context, r *http.Request) (any, error) {
	archived, err := httpkit.ParseBool(r, "archived")
	return endpoint.ListOutcomesRequest{Archived: archived}, err
}

// outcomeBody is an outcome's JSON members.
type outcomeBody struct {
	Key           string                   `json:"key"`
	Label         httpkit.Nullable[string] `json:"label"`
	Action        string                   `json:"action"`
	LadderMinutes httpkit.Nullable[[]int]  `json:"ladder_minutes"`
	Archived      httpkit.Nullable[bool]   `json:"archived"`
}

func decodeCreateOutcome(_ context.Context, r *http.Request) (any, error) {
	var b outcomeBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	spec := domain.OutcomeSpec{Key: b.Key, Label: b.Label.Value, Action: b.Action}
	if b.LadderMinutes.Set {
		spec.Ladder = domain.FromMinutes(b.LadderMinutes.Value)
	}
	var v apperr.Invalid
	if b.Archived.Set {
		v.Add("archived", "a new outcome is not archived")
	}
	return endpoint.CreateOutcomeRequest{Spec: spec, Invalid: fieldsOf(&v)}, nil
}

func decodeUpdateOutcome(_ context.Context, r *http.Request) (any, error) {
	ref, b, err := httpkit.PathRefBody[outcomeBody](r, domain.ErrOutcomeNotFound)
	if err != nil {
		return nil, err
	}
	var v apperr.Invalid
	if b.Key != "" || b.Action != "" {
		v.Add("key", "an outcome's key and action do not change: tasks and reports hold them; add another outcome instead")
	}
	if b.Label.Null || b.Archived.Null || b.LadderMinutes.Null {
		v.Add("label", "label, ladder_minutes and archived must not be null")
	}
	p := domain.OutcomePatch{Label: b.Label.Ptr(), Archived: b.Archived.Ptr()}
	if b.LadderMinutes.Set {
		steps := domain.FromMinutes(b.LadderMinutes.Value)
		p.Ladder = &steps
	}
	return endpoint.UpdateOutcomeRequest{Ref: ref, Patch: p, Invalid: fieldsOf(&v)}, nil
}

// outcomeView is an outcome's JSON.
type outcomeView struct {
	ID            uuid.UUID `json:"id"`
	Key           string    `json:"key"`
	Label         string    `json:"label"`
	Action        string    `json:"action"`
	LadderMinutes []int     `json:"ladder_minutes"`
	Position      int       `json:"position"`
	Archived      bool      `json:"archived"`
	Version       int64     `json:"version"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func outcomeViewOf(o *domain.Outcome) outcomeView {
	return outcomeView{ID: o.ID(), Key: o.Key(), Label: o.Label(), Action: o.Action(), LadderMinutes: domain.Minutes(o.Ladder().Steps()),
		Position: o.Position(), Archived: o.Archived(), Version: o.Version(), UpdatedAt: o.UpdatedAt()}
}

func encodeOutcome(o *domain.Outcome) (any, int64) { return outcomeViewOf(o), o.Version() }

func encodeOutcomes(os []*domain.Outcome) (any, int64) {
	items := make([]outcomeView, 0, len(os))
	for _, o := range os {
		items = append(items, outcomeViewOf(o))
	}
	return httpkit.Page[outcomeView]{Items: items}, 0
}

// calendarBody is a calendar's JSON members.
type calendarBody struct {
	UserID *string `json:"user_id"`
	domain.CalendarDoc
}

func decodeCreateCalendar(_ context.Context, r *http.Request) (any, error) {
	var b calendarBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	user := ""
	if b.UserID != nil {
		user = *b.UserID
	}
	return endpoint.CreateCalendarRequest{UserID: user, Doc: b.CalendarDoc}, nil
}

func decodeReplaceCalendar(_ context.Context, r *http.Request) (any, error) {
	ref, b, err := httpkit.PathRefBody[calendarBody](r, domain.ErrCalendarNotFound)
	if err != nil {
		return nil, err
	}
	if b.UserID != nil {
		return nil, apperr.Field("user_id", "a calendar's user does not change: delete it and give the user another")
	}
	return endpoint.ReplaceCalendarRequest{Ref: ref, Doc: b.CalendarDoc}, nil
}

// calendarView is a calendar's JSON.
type calendarView struct {
	ID     uuid.UUID `json:"id"`
	UserID *string   `json:"user_id"`
	domain.CalendarDoc
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

func calendarViewOf(w *domain.WorkCalendar) calendarView {
	v := calendarView{ID: w.ID(), CalendarDoc: domain.DocOf(w.Spec()), Version: w.Version(), UpdatedAt: w.UpdatedAt()}
	if u := w.UserID(); u != "" {
		v.UserID = &u
	}
	return v
}

func encodeCalendar(w *domain.WorkCalendar) (any, int64) { return calendarViewOf(w), w.Version() }

func encodeCalendars(ws []*domain.WorkCalendar) (any, int64) {
	items := make([]calendarView, 0, len(ws))
	for _, w := range ws {
		items = append(items, calendarViewOf(w))
	}
	return httpkit.Page[calendarView]{Items: items}, 0
}

// settingsBody is the settings' JSON members.
type settingsBody struct {
	Discipline *string `json:"discipline"`
	CallWindow *struct {
		From *string `json:"from"`
		To   *string `json:"to"`
	} `json:"call_window"`
	FirstResponseMinutes *int      `json:"first_response_minutes"`
	ReminderMinutes      *int      `json:"reminder_minutes"`
	RepeatSaleDays       *int      `json:"repeat_sale_days"`
	ExhaustedLosesDeal   *bool     `json:"exhausted_loses_deal"`
	Kinds                *[]string `json:"kinds"`
}

func decodeUpdateSettings(_ context.Context, r *http.Request) (any, error) {
	ifMatch, err := httpkit.IfMatch(r)
	if err != nil {
		return nil, err
	}
	var b settingsBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	p := domain.SettingsPatch{Discipline: b.Discipline, FirstResponseMinutes: b.FirstResponseMinutes, ReminderMinutes: b.ReminderMinutes,
		RepeatSaleDays: b.RepeatSaleDays, ExhaustedLosesDeal: b.ExhaustedLosesDeal, Kinds: b.Kinds}
	if b.CallWindow != nil {
		p.CallWindowFrom, p.CallWindowTo = b.CallWindow.From, b.CallWindow.To
	}
	return endpoint.UpdateSettingsRequest{IfMatch: ifMatch, Patch: p}, nil
}

// settingsView is the settings' JSON.
type settingsView struct {
	Discipline           string         `json:"discipline"`
	CallWindow           domain.SpanDoc `json:"call_window"`
	FirstResponseMinutes int            `json:"first_response_minutes"`
	ReminderMinutes      int            `json:"reminder_minutes"`
	RepeatSaleDays       int            `json:"repeat_sale_days"`
	ExhaustedLosesDeal   bool           `json:"exhausted_loses_deal"`
	Kinds                []string       `json:"kinds"`
	Version              int64          `json:"version"`
	UpdatedAt            *time.Time     `json:"updated_at"`
}

func encodeSettings(s domain.Settings) (any, int64) {
	v := settingsView{Discipline: s.Discipline, CallWindow: domain.SpanDoc{From: s.CallWindow.From.String(), To: s.CallWindow.To.String()},
		FirstResponseMinutes: int(s.FirstResponse / time.Minute), ReminderMinutes: int(s.ReminderLead / time.Minute),
		RepeatSaleDays: s.RepeatSaleDays, ExhaustedLosesDeal: s.ExhaustedLosesDeal, Kinds: s.Kinds, Version: s.Version}
	if v.Kinds == nil {
		v.Kinds = []string{}
	}
	if !s.UpdatedAt.IsZero() {
		v.UpdatedAt = &s.UpdatedAt
	}
	return v, s.Version
}

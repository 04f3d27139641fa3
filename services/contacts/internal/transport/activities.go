package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// activityBody is the JSON a client sends to log an activity.
type activityBody struct {
	Kind            string `json:"kind"`
	Direction       string `json:"direction"`
	Outcome         string `json:"outcome"`
	DurationSeconds int64  `json:"duration_seconds"`
	OccurredAt      string `json:"occurred_at"`
	Subject         string `json:"subject"`
	Body            string `json:"body"`
	ContactID       string `json:"contact_id"`
	CompanyID       string `json:"company_id"`
	DealID          string `json:"deal_id"`
	OwnerID         string `json:"owner_id"`
}

// activityJSON is an activity as the API shows it.
type activityJSON struct {
	ID              uuid.UUID  `json:"id"`
	Kind            string     `json:"kind"`
	Direction       *string    `json:"direction"`
	Outcome         string     `json:"outcome"`
	DurationSeconds int64      `json:"duration_seconds"`
	OccurredAt      time.Time  `json:"occurred_at"`
	Subject         string     `json:"subject"`
	Body            string     `json:"body"`
	ContactID       *uuid.UUID `json:"contact_id"`
	CompanyID       *uuid.UUID `json:"company_id"`
	DealID          *uuid.UUID `json:"deal_id"`
	OwnerID         string     `json:"owner_id"`
	CreatedAt       time.Time  `json:"created_at"`
}

func optionalID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func activityView(a *domain.Activity) activityJSON {
	f := a.Fields()
	return activityJSON{ID: a.ID(), Kind: f.Kind, Direction: nonEmpty(f.Direction), Outcome: f.Outcome,
		DurationSeconds: int64(f.Duration / time.Second), OccurredAt: f.OccurredAt, Subject: f.Subject, Body: f.Body,
		ContactID: optionalID(f.ContactID), CompanyID: optionalID(f.CompanyID), DealID: optionalID(f.DealID),
		OwnerID: f.OwnerID, CreatedAt: a.CreatedAt()}
}

func decodeLogActivity(_ context.Context, r *http.Request) (any, error) {
	var b activityBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	f := domain.ActivityFields{Kind: b.Kind, Direction: b.Direction, Outcome: b.Outcome,
		Duration: time.Duration(b.DurationSeconds) * time.Second, Subject: b.Subject, Body: b.Body, OwnerID: b.OwnerID,
		ContactID: httpkit.OptionalID(&v, "contact_id", b.ContactID), CompanyID: httpkit.OptionalID(&v, "company_id", b.CompanyID),
		DealID: httpkit.OptionalID(&v, "deal_id", b.DealID)}
	if b.DurationSeconds < 0 || b.DurationSeconds > int64(domain.MaxDuration/time.Second) {
		f.Duration = -1 // out of range; refused by the domain, never wrapped around
	}
	if b.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, b.OccurredAt)
		if err != nil {
			v.Add("occurred_at", "must be an RFC 3339 time such as 2026-11-23T10:00:00+03:00")
		}
		f.OccurredAt = t
	}
	return endpoint.LogActivityRequest{Fields: f}, v.Err()
}

func decodeListActivities(_ context.Context, r *http.Request) (any, error) {
	limit, after, err := decodePage(r)
	if err != nil {
		return nil, err
	}
	var v apperr.Invalid
	q := service.ActivityQuery{Limit: limit, After: after,
		ContactID: httpkit.OptionalID(&v, "contact_id", r.URL.Query().Get("contact_id")),
		CompanyID: httpkit.OptionalID(&v, "company_id", r.URL.Query().Get("company_id"))}
	return endpoint.ListActivitiesRequest{Query: q}, v.Err()
}

func decodeTimeline(_ context.Context, r *http.Request) (any, error) {
	id, err := httpkit.PathID(r, "id", domain.ErrContactNotFound)
	if err != nil {
		return nil, err
	}
	limit, after, err := decodePage(r)
	return endpoint.TimelineRequest{ContactID: id, Limit: limit, After: after}, err
}

func encodeActivity(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ActivityResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	if r.Created {
		w.Header().Set("Location", "/v1/activities/"+r.Activity.ID().String())
		return httpkit.WriteJSON(w, http.StatusCreated, activityView(r.Activity))
	}
	return httpkit.WriteJSON(w, http.StatusOK, activityView(r.Activity))
}

func encodeActivities(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListActivitiesResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writePage(w, r.Page, activityView)
}

// timelineJSON is one entry of a contact's timeline.
type timelineJSON struct {
	ID     uuid.UUID      `json:"id"`
	At     time.Time      `json:"at"`
	Type   string         `json:"type"`
	Source string         `json:"source"`
	Actor  *string        `json:"actor"`
	Data   map[string]any `json:"data"`
}

func encodeTimeline(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.TimelineResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writePage(w, r.Page, timelineView)
}

func timelineView(e domain.TimelineEntry) timelineJSON {
	return timelineJSON{ID: e.ID, At: e.At, Type: e.Type, Source: e.Source, Actor: nonEmpty(e.Actor), Data: e.Data}
}

package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

func TestATaskIsPlannedChangedAndClosedOnce(t *testing.T) {
	now := time.Now()
	task, err := NewTask(uuid.New(), TaskFields{Subject: " Call ", OwnerID: "rep", Team: "t1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if task.Subject() != "Call" || task.Fields().Kind != "todo" || task.Fields().Priority != "normal" || task.Status() != StatusOpen || task.Version() != 1 {
		t.Fatalf("defaults: %+v", task.Record())
	}
	at := now.Add(time.Hour)
	if err := task.Apply(TaskPatch{DueAt: &DueAt{At: at}}); err != nil || task.DueAt() == nil {
		t.Fatalf("a due time: %v", err)
	}
	day := "2027-01-16"
	if err := task.Apply(TaskPatch{DueDate: &day}); err != nil || task.DueAt() != nil || task.Fields().DueDate != day {
		t.Fatalf("a due day replaces the time: %v %+v", err, task.Fields())
	}
	owner := "mate"
	if err := task.Apply(TaskPatch{OwnerID: &owner}); err != nil || task.Team() != "" {
		t.Fatalf("a new owner without a team leaves the old team: %v %q", err, task.Team())
	}
	bad := "fax"
	if err := task.Apply(TaskPatch{Kind: &bad}); err == nil || task.Fields().Kind != "todo" {
		t.Fatalf("a bad kind changed the task: %v", err)
	}
	if err := task.Complete("reached", "ok", "rep", now); err != nil || task.Status() != StatusDone || task.ClosedAt() == nil {
		t.Fatalf("complete: %v", err)
	}
	for _, err := range []error{task.Complete("again", "", "rep", now), task.Cancel("", "rep", now), task.Apply(TaskPatch{Subject: &owner})} {
		if e, ok := apperr.As(err); !ok || e.Slug != "task-closed" {
			t.Errorf("a change of a closed task: %v", err)
		}
	}
	if task.Outcome() != "reached" {
		t.Errorf("the outcome changed: %q", task.Outcome())
	}
}

func TestNewTaskNamesEveryBrokenRule(t *testing.T) {
	at := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := NewTask(uuid.New(), TaskFields{Kind: "fax", DueAt: &at, DueDate: "2027-13-01", DurationMinutes: -1, Priority: "urgent"}, time.Now())
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("have %v", err)
	}
	have := map[string]bool{}
	for _, f := range e.Fields {
		have[f.Field] = true
	}
	for _, want := range []string{"kind", "subject", "due_at", "due_date", "duration_minutes", "priority", "owner_id"} {
		if !have[want] {
			t.Errorf("no %s among %v", want, e.Fields)
		}
	}
}

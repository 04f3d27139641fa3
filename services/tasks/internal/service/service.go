// Package service holds the tasks service's use cases.
package service

import (
	"context"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/services/tasks/internal/domain"
)

// Query is a page of the caller's visible tasks, oldest first.
type Query struct {
	Limit int
	// After is the last task of the previous page (uuid.Nil: the first).
	After uuid.UUID
}

// Page is one page of tasks; More tells whether another follows.
type Page struct {
	Tasks []*domain.Task
	More  bool
}

// TaskLister reads the tasks a viewer may see.
type TaskLister interface {
	ListTasks(ctx context.Context, tenant uuid.UUID, v access.Viewer, q Query) ([]*domain.Task, error)
}

// Service runs the use cases.
type Service struct {
	tasks TaskLister
}

// New returns the service over its repositories.
func New(tasks TaskLister) *Service { return &Service{tasks: tasks} }

// ListTasks is a page of the tasks the caller may see.
func (s *Service) ListTasks(ctx context.Context, q Query) (Page, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return Page{}, err
	}
	q.Limit++
	tasks, err := s.tasks.ListTasks(ctx, p.TenantID, p.Viewer(), q)
	if err != nil {
		return Page{}, err
	}
	if more := len(tasks) == q.Limit; more {
		return Page{Tasks: tasks[:len(tasks)-1], More: true}, nil
	}
	return Page{Tasks: tasks}, nil
}

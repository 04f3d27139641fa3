package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/pkg/events"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// The quick deal's undo, which the platform tests cannot provoke: the
// contact is created, then storing the deal fails, and the contact must go.

type fakeRepo struct {
	Repo     // unimplemented methods panic: the test touches only these
	pipeline *domain.Pipeline
	insert   error
	upserted []Party
}

func (r *fakeRepo) Pipelines(context.Context) ([]*domain.Pipeline, error) {
	return []*domain.Pipeline{r.pipeline}, nil
}
func (r *fakeRepo) Rates(context.Context) ([]CurrencyRate, error)         { return nil, nil }
func (r *fakeRepo) DealFields(context.Context) ([]customfield.Def, error) { return nil, nil }
func (r *fakeRepo) UpsertContacts(_ context.Context, ps ...Party) error {
	r.upserted = append(r.upserted, ps...)
	return nil
}
func (r *fakeRepo) InsertDeal(context.Context, *domain.Deal, domain.Move) error { return r.insert }
func (r *fakeRepo) Publish(context.Context, ...events.Event) error              { return nil }

type fakeStore struct{ repo *fakeRepo }

func (s fakeStore) Tx(_ context.Context, _ uuid.UUID, fn func(Repo) error) error { return fn(s.repo) }

type fakeContacts struct {
	Contacts
	created, deleted []uuid.UUID
}

func (c *fakeContacts) CreateContact(context.Context, []byte) (Party, error) {
	id := uuid.New()
	c.created = append(c.created, id)
	return Party{ID: id, Version: 1}, nil
}

func (c *fakeContacts) DeleteContact(_ context.Context, id uuid.UUID, version int64) error {
	if version != 1 {
		return errors.New("wrong version")
	}
	c.deleted = append(c.deleted, id)
	return nil
}

func quickDeal(t *testing.T, insert error) (*fakeContacts, error) {
	t.Helper()
	tenant := uuid.New()
	pl, err := domain.NewPipeline(tenant, "Sales", nil, "en", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	contacts := &fakeContacts{}
	s := New(fakeStore{&fakeRepo{pipeline: pl, insert: insert}}, contacts, func(uuid.UUID) Settings { return Settings{Locale: "en"} }, nil)
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{TenantID: tenant, UserID: "u", Roles: []string{auth.RoleRep}})
	title := "Quick"
	_, err = s.CreateDeal(ctx, domain.Fields{Title: &title}, []byte(`{"first_name":"Ann"}`))
	return contacts, err
}

func TestAQuickDealThatCannotBeStoredDeletesItsContact(t *testing.T) {
	contacts, err := quickDeal(t, errors.New("disk full"))
	if err == nil {
		t.Fatal("the deal was not stored, yet CreateDeal succeeded")
	}
	if len(contacts.created) != 1 || len(contacts.deleted) != 1 || contacts.deleted[0] != contacts.created[0] {
		t.Fatalf("created %v, deleted %v: want the created contact deleted", contacts.created, contacts.deleted)
	}
}

func TestAStoredQuickDealKeepsItsContact(t *testing.T) {
	contacts, err := quickDeal(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts.created) != 1 || len(contacts.deleted) != 0 {
		t.Fatalf("created %v, deleted %v", contacts.created, contacts.deleted)
	}
}

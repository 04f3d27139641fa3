package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/customfield"
	"github.com/rapportcrm/rapport/services/sales/internal/domain"
)

// The quick deal's undo, which the platform tests cannot provoke: the
// contact is created, then storing the deal fails, and the contact must go.

// fakeRepo is the few repository methods a quick deal touches: the deal's
// write (whose insert fails with insert) and its reads, and the contacts
// the projection holds.
type fakeRepo struct {
	DealRepository // unimplemented methods panic: the test touches only these
	pipeline       *domain.Pipeline
	insert         error
	upserted       []Party
	gone           []uuid.UUID
}

func (r *fakeRepo) CreateDeal(_ context.Context, _ uuid.UUID, fn func(DealTx) (NewDeal, error)) error {
	if _, err := fn(dealTx{r}); err != nil {
		return err
	}
	return r.insert
}

// dealTx is what the deal's write reads.
type dealTx struct{ r *fakeRepo }

func (tx dealTx) Pipelines(context.Context) ([]*domain.Pipeline, error) {
	return []*domain.Pipeline{tx.r.pipeline}, nil
}
func (tx dealTx) Pipeline(context.Context, uuid.UUID, Lock) (*domain.Pipeline, error) {
	return tx.r.pipeline, nil
}
func (dealTx) Rates(context.Context) ([]CurrencyRate, error)         { return nil, nil }
func (dealTx) DealFields(context.Context) ([]customfield.Def, error) { return nil, nil }
func (dealTx) LossReason(context.Context, uuid.UUID, bool) (*domain.LossReason, error) {
	return nil, domain.ErrLossReasonNotFound
}
func (dealTx) References(context.Context, []uuid.UUID, []uuid.UUID) (Held, error) { return Held{}, nil }
func (tx dealTx) UpsertContacts(_ context.Context, ps ...Party) error {
	tx.r.upserted = append(tx.r.upserted, ps...)
	return nil
}
func (dealTx) UpsertCompanies(context.Context, ...Party) error { return nil }

func (r *fakeRepo) Contact(_ context.Context, _, id uuid.UUID) (Party, bool, error) {
	for _, p := range r.gone {
		if p == id {
			return Party{ID: id, Deleted: true}, true, nil
		}
	}
	return Party{}, false, nil
}
func (r *fakeRepo) ForgetContact(_ context.Context, _, id uuid.UUID) error {
	r.gone = append(r.gone, id)
	return nil
}

type fakeContacts struct {
	Contacts
	created, deleted []uuid.UUID
	keyed            uuid.UUID // what the request's key made: replayed, as contacts does
}

func (c *fakeContacts) CreateContact(_ context.Context, _ []byte, keyed bool) (Party, error) {
	if keyed && c.keyed != uuid.Nil {
		return Party{ID: c.keyed, Version: 1}, nil
	}
	id := uuid.New()
	c.created = append(c.created, id)
	if keyed {
		c.keyed = id
	}
	return Party{ID: id, Version: 1}, nil
}

func (c *fakeContacts) DeleteContact(_ context.Context, id uuid.UUID, version int64) error {
	if version != 1 {
		return errors.New("wrong version")
	}
	c.deleted = append(c.deleted, id)
	return nil
}

type quick struct {
	s        *Service
	repo     *fakeRepo
	contacts *fakeContacts
	ctx      context.Context
}

func newQuick(t *testing.T) *quick {
	t.Helper()
	tenant := uuid.New()
	pl, err := domain.NewPipeline(tenant, "Sales", nil, "en", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	q := &quick{repo: &fakeRepo{pipeline: pl}, contacts: &fakeContacts{}}
	q.s = New(Stores{Deals: q.repo, Parties: q.repo}, q.contacts, func(uuid.UUID) Settings { return Settings{Locale: "en"} }, nil)
	q.ctx = auth.WithPrincipal(context.Background(), auth.Principal{TenantID: tenant, UserID: "u", Roles: []string{auth.RoleRep}})
	return q
}

func (q *quick) deal() (*DealView, error) {
	title := "Quick"
	return q.s.CreateDeal(q.ctx, DealInput{Patch: domain.DealPatch{Title: &title}}, []byte(`{"first_name":"Ann"}`))
}

func quickDeal(t *testing.T, insert error) (*fakeContacts, error) {
	t.Helper()
	q := newQuick(t)
	q.repo.insert = insert
	_, err := q.deal()
	return q.contacts, err
}

// A retried quick deal whose first attempt failed after making (and
// undoing) its contact makes a new contact rather than the replayed one.
func TestARetriedQuickDealDoesNotUseTheContactItUndid(t *testing.T) {
	q := newQuick(t)
	q.repo.insert = errors.New("disk full")
	if _, err := q.deal(); err == nil {
		t.Fatal("first attempt succeeded")
	}
	q.repo.insert = nil
	v, err := q.deal()
	if err != nil {
		t.Fatal(err)
	}
	if v.ContactID() == q.contacts.deleted[0] || len(q.contacts.created) != 2 || v.ContactID() != q.contacts.created[1] {
		t.Fatalf("deal names %s; created %v, deleted %v", v.ContactID(), q.contacts.created, q.contacts.deleted)
	}
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

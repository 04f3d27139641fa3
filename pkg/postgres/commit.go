package postgres

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// watcher is one OnCommit registration.
type watcher struct {
	mark    string
	fn      func()
	stopped atomic.Bool
}

var (
	watchMu  sync.Mutex
	watchers atomic.Pointer[[]*watcher] // copied on write; read on every statement
)

// OnCommit calls fn after each commit of a transaction run by this package
// (InTenant, InTenantBatch, InTenantBatchWith) that sent a statement whose
// text contains mark, and returns a function that stops it. It is how the
// outbox relay learns, in this process, that rows were appended and
// committed, the moment they are, without reading the outbox to find out.
// fn runs in the committing goroutine, once per commit however many such
// statements the transaction sent, and must not block. Nothing is called
// for a transaction that rolls back; a savepoint rolled back inside one
// that commits still counts (a wake-up read finds nothing, and goes back to
// sleep).
func OnCommit(mark string, fn func()) (stop func()) {
	w := &watcher{mark: mark, fn: fn}
	watchMu.Lock()
	defer watchMu.Unlock()
	var list []*watcher
	if p := watchers.Load(); p != nil {
		list = slices.Clone(*p)
	}
	list = append(list, w)
	watchers.Store(&list)
	return func() {
		w.stopped.Store(true)
		watchMu.Lock()
		defer watchMu.Unlock()
		list := slices.DeleteFunc(slices.Clone(*watchers.Load()), func(x *watcher) bool { return x == w })
		watchers.Store(&list)
	}
}

// seen collects the watchers whose mark a transaction's statements held.
type seen struct{ hits []*watcher }

// note records the watchers whose mark sql contains.
func (s *seen) note(sql string) {
	p := watchers.Load()
	if p == nil {
		return
	}
	for _, w := range *p {
		if !slices.Contains(s.hits, w) && strings.Contains(sql, w.mark) {
			s.hits = append(s.hits, w)
		}
	}
}

// noteBatch records the watchers whose mark a statement of b contains.
func (s *seen) noteBatch(b *pgx.Batch) {
	if watchers.Load() == nil {
		return
	}
	for _, q := range b.QueuedQueries {
		s.note(q.SQL)
	}
}

// committed calls the watchers seen, once each.
func (s *seen) committed() {
	for _, w := range s.hits {
		if !w.stopped.Load() {
			w.fn()
		}
	}
}

// watchedTx is the transaction InTenant hands out: it notes the statements
// sent through it, so that the watchers they concern run once it commits.
type watchedTx struct {
	pgx.Tx
	seen *seen
}

func (t *watchedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	t.seen.note(sql)
	return t.Tx.Exec(ctx, sql, args...)
}

func (t *watchedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	t.seen.note(sql)
	return t.Tx.Query(ctx, sql, args...)
}

func (t *watchedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	t.seen.note(sql)
	return t.Tx.QueryRow(ctx, sql, args...)
}

func (t *watchedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	t.seen.noteBatch(b)
	return t.Tx.SendBatch(ctx, b)
}

// Begin starts a savepoint whose statements count for the transaction.
func (t *watchedTx) Begin(ctx context.Context) (pgx.Tx, error) {
	sp, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &watchedTx{Tx: sp, seen: t.seen}, nil
}

package postgres_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/postgres"
)

// Each statement of a tenant's transaction is one client span that follows
// the database conventions, and no span carries the tenant id: it travels
// as a parameter, never inside the text.
func TestEachStatementIsOneSpanWithoutTheTenantID(t *testing.T) {
	rec := testenv.Spans(t)
	ctx, p := setup(t)
	tenant := uuid.New()
	const (
		insert = `insert into notes (tenant_id, id, body) values ($1, $2, $3)`
		read   = `select body from notes where id = $1`
		secret = "card-4111-1111"
		// The secret sits in the text, next to a parameter.
		literal = `update notes set body = 'card-4111-1111' where id = $1`
	)
	ctx, root := otel.Tracer("test").Start(ctx, "request")
	err := postgres.InTenant(ctx, p.Pool, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insert, tenant, 1, "one"); err != nil {
			return err
		}
		var body string
		if err := tx.QueryRow(ctx, read, 1).Scan(&body); err != nil {
			return err
		}
		// A literal beside a parameter is a value too.
		_, err := tx.Exec(ctx, literal, 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue(insert, tenant, 2, "two")
	if err := postgres.InTenantBatch(ctx, p.Pool, tenant, b); err != nil {
		t.Fatal(err)
	}
	root.End()

	var spans []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == root.SpanContext().TraceID() && s.SpanContext().SpanID() != root.SpanContext().SpanID() {
			spans = append(spans, s)
		}
	}
	texts := map[string]int{}
	for _, s := range spans {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
			if strings.Contains(kv.Value.Emit(), tenant.String()) {
				t.Errorf("span %q: %s carries the tenant id literal: %s", s.Name(), kv.Key, kv.Value.Emit())
			}
			if strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("span %q: %s carries a literal of a parameterised statement: %s", s.Name(), kv.Key, kv.Value.Emit())
			}
		}
		if strings.Contains(s.Name(), tenant.String()) {
			t.Errorf("span name %q carries the tenant id", s.Name())
		}
		if s.SpanKind() != trace.SpanKindClient || attrs["db.system.name"] != "postgresql" || attrs["db.namespace"] == "" {
			t.Errorf("span %q: kind %s, attributes %v", s.Name(), s.SpanKind(), attrs)
		}
		if text := attrs["db.query.text"]; text != "" {
			texts[text]++
			if strings.Contains(strings.ToLower(text), "begin") && strings.Contains(text, "set_config") {
				t.Errorf("span %q runs two statements as one: %q", s.Name(), text)
			}
		}
		if attrs["db.query.text"] == insert {
			want := map[string]string{"db.operation.name": "INSERT", "db.collection.name": "notes", "db.query.summary": "INSERT notes"}
			for k, v := range want {
				if attrs[k] != v {
					t.Errorf("insert span %q: %s = %q, want %q", s.Name(), k, attrs[k], v)
				}
			}
			if s.Name() != "INSERT notes" {
				t.Errorf("insert span named %q, want %q", s.Name(), "INSERT notes")
			}
		}
	}
	// Once in the transaction, once in the batch; the read once.
	if texts[insert] != 2 || texts[read] != 1 {
		t.Errorf("statements traced %v times; want the insert twice (two calls) and the read once", texts)
	}
	if texts[`update notes set body = ? where id = $1`] != 1 {
		t.Errorf("the parameterised statement with a literal is not recorded sanitised: %v", texts)
	}
	if texts[`select set_config(?, $1, true)`] != 2 {
		t.Errorf("the tenant scope is not one parameterised statement per transaction: %v", texts)
	}
	for _, s := range spans {
		if s.Name() == "pool.acquire" {
			t.Errorf("a span per connection acquired")
			break
		}
	}
}

package postgres

import (
	"context"
	"errors"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// tracer makes one span per statement that follows the OpenTelemetry
// database conventions: named by its query summary ("SELECT contacts"), with
// the operation and table when there is one of each, and the query text with
// its parameters ($1) but no literal values. otelpgx starts and ends the
// spans and records the db.client.operation metrics; tracer names them.
//
// It deliberately implements neither pgxpool.AcquireTracer nor
// pgx.PrepareTracer: waiting for a connection is not a statement, and pgx
// prepares each statement once per connection as part of running it, so
// either span would show every query twice.
type tracer struct {
	otel   *otelpgx.Tracer
	tracer trace.Tracer
}

var (
	_ pgx.QueryTracer    = (*tracer)(nil)
	_ pgx.BatchTracer    = (*tracer)(nil)
	_ pgx.CopyFromTracer = (*tracer)(nil)
	_ pgx.ConnectTracer  = (*tracer)(nil)
)

func newTracer() *tracer {
	return &tracer{
		// The statement attributes are set below, from the parsed text.
		otel:   otelpgx.NewTracer(otelpgx.WithDisableSQLStatementInAttributes()),
		tracer: otel.Tracer("github.com/rapportcrm/rapport/pkg/postgres"),
	}
}

// name gives span the statement's name and attributes. The text recorded
// has its literals replaced, parameterised or not: a value written into the
// SQL beside a $1 must not reach a trace either.
func name(span trace.Span, sql string) {
	st := describe(sql)
	span.SetName(spanName(st.summary))
	span.SetAttributes(st.attrs...)
}

// spanName falls back to the database system, as the conventions ask, when a
// statement has no summary.
func spanName(summary string) string {
	if summary == "" {
		return "postgresql"
	}
	return summary
}

// fail records the server's error code as the conventions name it.
func fail(span trace.Span, err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code), semconv.ErrorTypeKey.String(pgErr.Code))
	}
}

func (t *tracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx = t.otel.TraceQueryStart(ctx, conn, data)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		name(span, data.SQL)
	}
	return ctx
}

func (t *tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err != nil {
		fail(trace.SpanFromContext(ctx), data.Err)
	}
	t.otel.TraceQueryEnd(ctx, conn, data)
}

// TraceBatchStart names the batch span "BATCH <summary>" when every
// statement has the same summary, and "BATCH" otherwise.
func (t *tracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	ctx = t.otel.TraceBatchStart(ctx, conn, data)
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || data.Batch == nil {
		return ctx
	}
	var first *statement
	same := true
	for i, q := range data.Batch.QueuedQueries {
		st := describe(q.SQL)
		if i == 0 {
			first = st
		} else if st.summary != first.summary {
			same = false
			break
		}
	}
	if first == nil {
		first = &statement{}
	}
	op := "BATCH"
	if same && first.summary != "" {
		span.SetName("BATCH " + first.summary)
		span.SetAttributes(semconv.DBQuerySummary("BATCH " + first.summary))
		if first.operation != "" {
			op += " " + first.operation
		}
		if first.collection != "" {
			span.SetAttributes(semconv.DBCollectionName(first.collection))
		}
	} else {
		span.SetName(op)
	}
	span.SetAttributes(semconv.DBOperationName(op))
	return ctx
}

// TraceBatchQuery makes a span of each statement in the batch, from when its
// result was asked for until it was read.
func (t *tracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(connection(conn)...)}
	if !data.ReadStartTime.IsZero() {
		opts = append(opts, trace.WithTimestamp(data.ReadStartTime))
	}
	_, span := t.tracer.Start(ctx, "postgresql", opts...)
	name(span, data.SQL)
	if data.Err != nil {
		fail(span, data.Err)
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	} else {
		span.SetAttributes(otelpgx.RowsAffectedKey.Int64(data.CommandTag.RowsAffected()))
	}
	span.End()
}

func (t *tracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	t.otel.TraceBatchEnd(ctx, conn, data)
}

func (t *tracer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	ctx = t.otel.TraceCopyFromStart(ctx, conn, data)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		table := data.TableName.Sanitize()
		span.SetName("COPY " + table)
		span.SetAttributes(semconv.DBOperationName("COPY"), semconv.DBQuerySummary("COPY "+table))
	}
	return ctx
}

func (t *tracer) TraceCopyFromEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromEndData) {
	if data.Err != nil {
		fail(trace.SpanFromContext(ctx), data.Err)
	}
	t.otel.TraceCopyFromEnd(ctx, conn, data)
}

func (t *tracer) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	return t.otel.TraceConnectStart(ctx, data)
}

func (t *tracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	t.otel.TraceConnectEnd(ctx, data)
}

// connection are the attributes otelpgx gives its own spans.
func connection(conn *pgx.Conn) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	if conn == nil {
		return attrs
	}
	cfg := conn.Config()
	return append(attrs, semconv.ServerAddress(cfg.Host), semconv.ServerPort(int(cfg.Port)), semconv.DBNamespace(cfg.Database))
}

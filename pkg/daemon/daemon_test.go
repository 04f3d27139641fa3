package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

func TestRunReportsFailureWithTheProgramName(t *testing.T) {
	var out, errs bytes.Buffer
	code := daemon.Run("widgets", &out, &errs, func(context.Context, *slog.Logger) error {
		return errors.New("DATABASE_URL is required")
	})
	if code != 1 || !strings.Contains(errs.String(), "widgets: DATABASE_URL is required") {
		t.Fatalf("have code %d, stderr %q", code, errs.String())
	}
}

func TestRunRefusesKafkaSecurityItCannotUse(t *testing.T) {
	t.Setenv("KAFKA_SASL_MECHANISM", "GSSAPI")
	t.Setenv("KAFKA_SASL_USERNAME", "rapport")
	t.Setenv("KAFKA_SASL_PASSWORD", "s3cret")
	var out, errs bytes.Buffer
	ran := false
	code := daemon.Run("widgets", &out, &errs, func(context.Context, *slog.Logger) error { ran = true; return nil })
	if code != 1 || ran || !strings.Contains(errs.String(), "widgets: KAFKA_SASL_MECHANISM must be") {
		t.Fatalf("have code %d (ran %v), stderr %q", code, ran, errs.String())
	}
}

func TestRunStopsOnSIGTERMAndLogsJSON(t *testing.T) {
	var out, errs bytes.Buffer
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	}()
	code := daemon.Run("widgets", &out, &errs, func(ctx context.Context, log *slog.Logger) error {
		log.InfoContext(ctx, "serving")
		<-ctx.Done()
		return nil
	})
	if code != 0 || errs.Len() != 0 {
		t.Fatalf("have code %d, stderr %q", code, errs.String())
	}
	if !strings.Contains(out.String(), `"msg":"serving"`) || !strings.Contains(out.String(), `"service":"widgets"`) {
		t.Fatalf("have log %q", out.String())
	}
}

// A service gets the GC defaults sized for its small heap, unless the
// operator set GOGC or GOMEMLIMIT.
func TestRunTunesTheGarbageCollectorUnlessTheEnvironmentDoes(t *testing.T) {
	gcOf := func() (percent int, limit int64) {
		percent = debug.SetGCPercent(100)
		debug.SetGCPercent(percent)
		return percent, debug.SetMemoryLimit(-1)
	}
	prevPercent, prevLimit := gcOf()
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })
	for _, tc := range []struct {
		gogc, memlimit string
		percent        int
		limit          int64
	}{
		{"", "", 400, 192 << 20},
		{"150", "1GiB", 150, 1 << 30},
	} {
		t.Setenv("GOGC", tc.gogc)
		t.Setenv("GOMEMLIMIT", tc.memlimit)
		// The runtime reads the variables at start; stand in for it.
		if tc.gogc != "" {
			debug.SetGCPercent(150)
			debug.SetMemoryLimit(1 << 30)
		}
		var percent int
		var limit int64
		daemon.Run("widgets", io.Discard, io.Discard, func(context.Context, *slog.Logger) error {
			percent, limit = gcOf()
			return nil
		})
		if percent != tc.percent || limit != tc.limit {
			t.Errorf("GOGC=%q GOMEMLIMIT=%q: have GOGC %d, limit %d; want %d, %d", tc.gogc, tc.memlimit, percent, limit, tc.percent, tc.limit)
		}
	}
}

// Every program's telemetry names its version and its instance, so that
// traces and metrics of two replicas or two releases can be told apart.
func TestRunDescribesTheProgramInItsTelemetry(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(k, "")
	}
	var exposition string
	code := daemon.Run("widgets", io.Discard, io.Discard, func(context.Context, *slog.Logger) error {
		rec := httptest.NewRecorder()
		telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		exposition = rec.Body.String()
		return nil
	})
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	var info string
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "target_info{") {
			info = line
		}
	}
	for _, want := range []string{`service_name="widgets"`, `service_version="` + telemetry.Version() + `"`, `service_instance_id="`} {
		if !strings.Contains(info, want) {
			t.Errorf("target_info lacks %s: %q", want, info)
		}
	}
}

func TestProbeSucceedsOnlyOn200(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready {
			http.Error(w, "contacts not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var stderr strings.Builder
	if code := daemon.Probe(srv.URL+"/readyz", &stderr); code != 0 {
		t.Fatalf("a ready endpoint: exit %d (%s)", code, stderr.String())
	}
	ready = false
	if code := daemon.Probe(srv.URL+"/readyz", &stderr); code != 1 || !strings.Contains(stderr.String(), "503") || !strings.Contains(stderr.String(), "contacts not ready") {
		t.Fatalf("an unready endpoint: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	srv.Close()
	if code := daemon.Probe(srv.URL+"/readyz", &stderr); code != 1 || stderr.Len() == 0 {
		t.Fatalf("a closed port: exit %d, stderr %q", code, stderr.String())
	}
}

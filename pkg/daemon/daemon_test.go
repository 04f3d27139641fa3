package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/daemon"
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

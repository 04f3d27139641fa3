package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/pkg/telemetry/telemetrytest"
)

type response struct{ err error }

func (r response) Failed() error { return r.err }

func TestObserverLogsBusinessErrorsAndFailuresAtTheirLevels(t *testing.T) {
	var buf bytes.Buffer
	o := observe.New("widgets", slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for _, err := range []error{nil, apperr.NotFound("widget"), errors.New("disk on fire")} {
		e := o.Middleware("GetWidget")(func(context.Context, any) (any, error) { return response{err}, nil })
		if resp, _ := e(context.Background(), nil); resp.(response).err != err {
			t.Fatal("the response was not passed through")
		}
	}
	var levels []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["method"] != "GetWidget" || rec["msg"] != "widgets call" {
			t.Fatalf("line %s", line)
		}
		levels = append(levels, rec["level"].(string))
	}
	if strings.Join(levels, ",") != "DEBUG,INFO,ERROR" {
		t.Fatalf("levels %v", levels)
	}
}

// The call metrics pass promtool and their buckets fit calls measured in
// seconds: a 3 ms call lands between 2.5 and 5 ms, not in the first bucket.
func TestObserverMetricsPassPromtoolWithSecondsBuckets(t *testing.T) {
	telemetrytest.Setup(t, "widgets")
	o := observe.New("widgets", slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := o.Middleware("GetWidget")(func(context.Context, any) (any, error) {
		time.Sleep(3 * time.Millisecond)
		return response{}, nil
	})
	if _, err := e(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	have := telemetrytest.Scrape(t)
	telemetrytest.Lint(t, have)
	for le, want := range map[string]string{"0.0025": "0", "0.01": "1"} {
		if n, _ := telemetrytest.Value(have, "widgets_call_duration_seconds_bucket", map[string]string{"method": "GetWidget", "le": le}); n != want {
			t.Errorf("bucket le=%s should count %s calls:\n%s", le, want, have)
		}
	}
}

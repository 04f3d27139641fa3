package kit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/kit"
)

type response struct{ err error }

func (r response) Failed() error { return r.err }

func TestObserverLogsBusinessErrorsAndFailuresAtTheirLevels(t *testing.T) {
	var buf bytes.Buffer
	o := kit.NewObserver("widgets", slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
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

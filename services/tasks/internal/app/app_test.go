package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/tasks/api"
	"github.com/rapportcrm/rapport/services/tasks/internal/app"
)

// Every reply a test receives is checked against the service's OpenAPI document.
func TestMain(m *testing.M) {
	testenv.ValidateWith(api.OpenAPI)
	testenv.Main(m)
}

// harness runs the real service on a real database and broker, with two
// tenants it has acknowledged.
type harness struct {
	*testenv.World
	url              string
	tenantA, tenantB uuid.UUID
}

func start(t testing.TB) *harness {
	t.Helper()
	w := testenv.NewWorld(t)
	h := &harness{World: w}
	h.url = testenv.Run(w, func(ctx context.Context) (*app.App, error) {
		return app.New(ctx, app.Config{Config: w.Config()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	h.tenantA, h.tenantB = w.Tenant(app.Name), w.Tenant(app.Name)
	return h
}

// do calls the service; rest is the body, then header names and values.
func (h *harness) do(method, path, token string, rest ...any) testenv.Reply {
	h.T.Helper()
	var b any
	var headers []string
	for i, r := range rest {
		if i == 0 {
			b = r
			continue
		}
		headers = append(headers, r.(string))
	}
	return testenv.Call(h.T, method, h.url+path, token, b, headers...)
}

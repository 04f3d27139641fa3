package servicekit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/rapportcrm/rapport/pkg/servicekit"
)

type fakeApp struct{ ran, closed bool }

func (a *fakeApp) Run(context.Context, net.Listener) error {
	a.ran = true
	return errors.New("stopped")
}
func (a *fakeApp) Close() { a.closed = true }

func TestProgramRunsTheAppItBuiltAndClosesIt(t *testing.T) {
	app := &fakeApp{}
	var got string
	run := servicekit.Program(func() (string, error) { return "cfg", nil },
		func(_ context.Context, cfg string, _ *slog.Logger) (*fakeApp, error) { got = cfg; return app, nil })
	if err := run(context.Background(), slog.Default()); err == nil || err.Error() != "stopped" {
		t.Fatalf("have %v, want the app's own error", err)
	}
	if got != "cfg" || !app.ran || !app.closed {
		t.Fatalf("config %q ran %v closed %v", got, app.ran, app.closed)
	}
}

func TestProgramStopsAtABadConfigurationOrAFailedBuild(t *testing.T) {
	bad := errors.New("DATABASE_URL is required")
	built := false
	run := servicekit.Program(func() (int, error) { return 0, bad },
		func(context.Context, int, *slog.Logger) (*fakeApp, error) { built = true; return &fakeApp{}, nil })
	if err := run(context.Background(), slog.Default()); !errors.Is(err, bad) || built {
		t.Fatalf("have %v (built %v), want the configuration's error and no app", err, built)
	}
	refused := errors.New("database unreachable")
	run = servicekit.Program(func() (int, error) { return 1, nil },
		func(context.Context, int, *slog.Logger) (*fakeApp, error) { return nil, refused })
	if err := run(context.Background(), slog.Default()); !errors.Is(err, refused) {
		t.Fatalf("have %v, want the build's error", err)
	}
}

package servicekit

import (
	"context"
	"errors"
	"log/slog"
	"net"
)

// App is a service's app as its main runs it: until ctx ends, on its own
// listener (nil: its configured address), then closed.
type App interface {
	Run(ctx context.Context, l net.Listener) error
	Close()
}

// Program is a service's whole main, for daemon.Main: read the
// configuration, build the app, run it and close it. A build that only
// migrated (ErrMigrated: MIGRATE_ONLY) ends the program successfully.
//
//	daemon.Main(app.Name, servicekit.Program(app.ConfigFromEnv, app.New))
func Program[C any, A App](config func() (C, error), build func(context.Context, C, *slog.Logger) (A, error)) func(context.Context, *slog.Logger) error {
	return func(ctx context.Context, log *slog.Logger) error {
		cfg, err := config()
		if err != nil {
			return err
		}
		a, err := build(ctx, cfg, log)
		if errors.Is(err, ErrMigrated) {
			return nil
		}
		if err != nil {
			return err
		}
		defer a.Close()
		return a.Run(ctx, nil)
	}
}

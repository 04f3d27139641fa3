// Command tasks serves the manager's next steps: tasks planned on deals,
// contacts and companies.
package main

import (
	"context"
	"log/slog"

	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/services/tasks/internal/app"
)

func main() {
	daemon.Main(app.Name, func(ctx context.Context, log *slog.Logger) error {
		cfg, err := app.ConfigFromEnv()
		if err != nil {
			return err
		}
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		return a.Run(ctx, nil)
	})
}

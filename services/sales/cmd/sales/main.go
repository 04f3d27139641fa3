// Command sales serves the sales funnel: pipelines and their stages, deals
// and their moves, loss reasons and currency rates.
package main

import (
	"context"
	"log/slog"

	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/services/sales/internal/app"
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

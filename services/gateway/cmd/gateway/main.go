// Command gateway is Rapport's public entry point: it verifies tokens,
// admits tenants, enforces their rate limits and routes /v1 to the services.
package main

import (
	"context"
	"log/slog"

	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/services/gateway/internal/app"
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
		return a.Run(ctx, nil)
	})
}

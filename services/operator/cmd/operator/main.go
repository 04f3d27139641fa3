// Command operator provisions tenants from Tenant resources: it publishes
// each tenant's record to the services, turns their acknowledgements into
// status, and deletes tenants behind a finalizer.
package main

import (
	"context"
	"log/slog"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/services/operator/internal/app"
)

func main() {
	daemon.Main(app.Name, func(ctx context.Context, log *slog.Logger) error {
		cfg, err := app.ConfigFromEnv()
		if err != nil {
			return err
		}
		rc, err := ctrl.GetConfig()
		if err != nil {
			return err
		}
		a, err := app.New(ctx, cfg, rc, log)
		if err != nil {
			return err
		}
		return a.Run(ctx)
	})
}

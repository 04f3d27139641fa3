// Command gateway is Rapport's public entry point: it verifies tokens,
// admits tenants, enforces their rate limits and routes /v1 to the services.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rapportcrm/rapport/pkg/telemetry"
	"github.com/rapportcrm/rapport/services/gateway/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	shutdown, err := telemetry.Setup(ctx, app.Name)
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	log := telemetry.NewLogger(os.Stdout, app.Name)
	slog.SetDefault(log)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx, nil)
}

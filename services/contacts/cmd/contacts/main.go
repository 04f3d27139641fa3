// Command contacts serves the client base: contacts now, companies, custom
// fields, duplicates, import and export as the service grows.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rapportcrm/rapport/pkg/telemetry"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "contacts:", err)
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
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx, nil)
}

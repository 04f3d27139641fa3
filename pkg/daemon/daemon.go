// Package daemon is what every Rapport program's main does: stop on SIGINT or
// SIGTERM, set up telemetry, log JSON, run, flush telemetry and exit non-zero
// with the error when running failed.
package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// Main runs run for the program called name and exits the process.
func Main(name string, run func(ctx context.Context, log *slog.Logger) error) {
	os.Exit(Run(name, os.Stdout, os.Stderr, run))
}

// Run is Main without the exit: it returns the exit code.
func Run(name string, stdout, stderr io.Writer, run func(ctx context.Context, log *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := telemetry.Setup(ctx, name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: telemetry: %v\n", name, err)
		return 1
	}
	log := telemetry.NewLogger(stdout, name)
	slog.SetDefault(log)
	err = run(ctx, log)
	if serr := shutdown(context.WithoutCancel(ctx)); serr != nil {
		log.Warn("telemetry shutdown", "err", serr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// Package daemon is what every Rapport program's main does: stop on SIGINT or
// SIGTERM, set up Kafka's TLS and SASL and telemetry, log JSON, run, flush
// telemetry and exit non-zero with the error when running failed.
package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rapportcrm/rapport/pkg/kafkaconn"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// Main runs run for the program called name and exits the process. Called
// as "<program> probe <url>" it checks url instead (Probe), so that every
// image, which holds nothing but its program, can check a peer's health
// (the chart's helm test does).
func Main(name string, run func(ctx context.Context, log *slog.Logger) error) {
	if len(os.Args) == 3 && os.Args[1] == "probe" {
		os.Exit(Probe(os.Args[2], os.Stderr))
	}
	os.Exit(Run(name, os.Stdout, os.Stderr, run))
}

// Probe asks url (an http(s) health endpoint) once, within 5 seconds: 0
// when it answers 200, else 1 with why on stderr.
func Probe(url string, stderr io.Writer) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "probe %s: %v\n", url, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "probe %s: %s %s\n", url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	return 0
}

// Run is Main without the exit: it returns the exit code.
func Run(name string, stdout, stderr io.Writer, run func(ctx context.Context, log *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC()
	// Every Kafka client of the process dials with the cluster's security
	// (KAFKA_TLS*, KAFKA_SASL*; plaintext when none is set).
	security, err := kafkaconn.FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	defer kafkaconn.Install(security)()
	shutdown, err := telemetry.Setup(ctx, name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: telemetry: %v\n", name, err)
		return 1
	}
	out := newBufferedOutput(stdout)
	log := telemetry.NewLogger(out, name)
	previous := slog.Default()
	slog.SetDefault(log)
	// The log lines go out before the error that ends the run, and nothing
	// logs into the closed buffer afterwards.
	defer func() {
		slog.SetDefault(previous)
		out.Close()
	}()
	if dir := os.Getenv("PROFILE_DIR"); dir != "" {
		stopProfile, err := profileCPU(dir, name)
		if err != nil {
			fmt.Fprintf(stderr, "%s: PROFILE_DIR: %v\n", name, err)
			return 1
		}
		defer stopProfile()
	}
	err = run(ctx, log)
	if serr := shutdown(context.WithoutCancel(ctx)); serr != nil {
		log.Warn("telemetry shutdown", "err", serr)
	}
	if err != nil {
		slog.SetDefault(previous)
		out.Close()
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// profileCPU writes a CPU profile of the whole run to dir/<name>.cpu.pprof,
// for `go tool pprof` after a load test.
func profileCPU(dir, name string) (stop func(), err error) {
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// Garbage-collector defaults for a service whose live heap is a few
// megabytes: collecting every time the heap doubles spends a sixth of the CPU
// of a busy service on GC. Without GOGC or GOMEMLIMIT in the environment, the
// heap may grow to five times the live data (GOGC=400) but the collector
// turns aggressive near a 192 MiB soft limit, inside the 256 MB budget of
// DESIGN.md §13. Either variable set by the operator wins.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 192 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

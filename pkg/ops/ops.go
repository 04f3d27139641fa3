// Package ops serves a process's operational endpoints — Prometheus
// /metrics, /healthz and /readyz — on a listener of their own (OPS_ADDR),
// apart from the API: metrics name tenants and must not be public, and
// probes and scrapers can be let in where clients are not.
package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/pkg/telemetry"
)

// PortOffset places the ops port this far above the API port when OPS_ADDR
// is not set, so every process's pair is predictable: 8080 → 9080.
const PortOffset = 1000

// AddrFromEnv is OPS_ADDR, or else apiAddr's host with its port plus
// PortOffset (port 0, any free port, stays 0). Errors name OPS_ADDR.
func AddrFromEnv(apiAddr string) (string, error) {
	if v := strings.TrimSpace(os.Getenv("OPS_ADDR")); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			return "", fmt.Errorf("OPS_ADDR must be host:port such as 127.0.0.1:9090 or :9090, got %q", v)
		}
		return v, nil
	}
	host, port, err := net.SplitHostPort(apiAddr)
	if err != nil || !validPort(port) {
		return "", fmt.Errorf("OPS_ADDR is not set and cannot be derived from the API address %q; set it", apiAddr)
	}
	n, _ := strconv.Atoi(port)
	if n == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	if n+PortOffset > 65535 {
		return "", fmt.Errorf("OPS_ADDR is not set and port %d+%d is out of range; set it", n, PortOffset)
	}
	return net.JoinHostPort(host, strconv.Itoa(n+PortOffset)), nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// Handler serves GET /metrics, /healthz and /readyz (ready as httpkit.Health
// takes it); any other path is a 404 problem.
func Handler(ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler())
	httpkit.Health(mux, ready)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpkit.EncodeError(r.Context(), apperr.New(apperr.KindNotFound, "not-found",
			"the operations port serves /metrics, /healthz and /readyz only"), w)
	})
	return mux
}

// Listen binds the operations listener at addr (OPS_ADDR); an empty addr
// binds none and returns nil, which Serve takes as nothing to serve.
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("OPS_ADDR %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves Handler(ready) on l until ctx ends; a nil l serves nothing.
func Serve(ctx context.Context, l net.Listener, ready func(context.Context) error, log *slog.Logger) error {
	if l == nil {
		return nil
	}
	return httpkit.Serve(ctx, l, Handler(ready), log, time.Second)
}

package httpkit

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check so a hung dependency answers 503
// before the probe itself times out.
const readyTimeout = 3 * time.Second

// Health registers GET /healthz, which answers 200 while the process serves,
// and GET /readyz, which answers 200 when ready returns nil and a 503
// problem naming the failure otherwise. A nil ready is always ready.
func Health(mux *http.ServeMux, ready func(ctx context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				slog.WarnContext(r.Context(), "httpkit: not ready", "err", err)
				WriteProblem(w, r, Problem{Type: ProblemType("not-ready"), Status: http.StatusServiceUnavailable, Detail: err.Error()})
				return
			}
		}
		writeStatus(w, "ready")
	})
}

func writeStatus(w http.ResponseWriter, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"` + status + `"}` + "\n"))
}

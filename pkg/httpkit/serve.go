package httpkit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves h on l until ctx ends, then stops accepting and gives requests
// in flight up to grace to finish. Every service and the gateway serve this
// way, so SIGTERM drains instead of cutting requests off, and so even the
// errors net/http answers before any handler runs are problems.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	srv := &http.Server{Handler: asteriskTarget(h), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: MaxHeaderBytes, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	l = problemListener{l}
	failed := make(chan error, 1)
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
		}
		close(failed)
	}()
	log.InfoContext(ctx, "serving", "addr", l.Addr().String())
	select {
	case err := <-failed:
		return err
	case <-ctx.Done():
	}
	log.InfoContext(ctx, "shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return <-failed
}

// asteriskTarget answers a request for "*" other than OPTIONS (the server
// answers that one) with a problem; a ServeMux would send an empty 400.
func asteriskTarget(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "*" {
			WriteProblem(w, r, Problem{Type: ProblemType("malformed-request"), Status: http.StatusBadRequest,
				Detail: "the request target * is only for OPTIONS; name a path"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

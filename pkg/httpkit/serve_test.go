package httpkit_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// A request in flight when the context ends still gets its answer.
func TestServeDrainsRequestsInFlight(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- httpkit.Serve(ctx, l, h, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second)
	}()
	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	cancel()
	if have := <-answer; have != "done" {
		t.Fatalf("have %q, want the drained answer", have)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + l.Addr().String()); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

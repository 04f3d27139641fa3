package daemon

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log lines wait at most logFlushEvery in the buffer, and none is lost.
func TestLogOutputIsFlushedPromptlyAndCompletely(t *testing.T) {
	var mu sync.Mutex
	var got bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return got.Write(p)
	})
	out := newBufferedOutput(w)
	for i := range 1000 {
		fmt.Fprintf(out, "line %d\n", i)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := strings.Count(got.String(), "\n")
		mu.Unlock()
		if n == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 1000 lines out after 2 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(out, "last\n")
	out.Close()
	if !strings.HasSuffix(got.String(), "line 999\nlast\n") {
		t.Fatalf("output ends %q", got.String()[got.Len()-30:])
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

package daemon

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushEvery bounds how long a log line waits in the buffer.
const logFlushEvery = 100 * time.Millisecond

// bufferedOutput collects log lines and writes them out together: at most
// logFlushEvery after the first of them, when 32 KiB have gathered, and at
// exit. Under load a service logs a line per request; a write system call
// each cost as much CPU as a fifth of the request in the contacts service
// (with make run copying every line on). A crash loses at most the lines
// of the last logFlushEvery.
type bufferedOutput struct {
	mu      sync.Mutex
	w       *bufio.Writer
	pending bool
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
}

func newBufferedOutput(w io.Writer) *bufferedOutput {
	b := &bufferedOutput{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop()
	return b
}

func (b *bufferedOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	b.pending = true
	if b.w.Buffered() >= 32<<10 {
		err = b.w.Flush()
		b.pending = false
	}
	return n, err
}

func (b *bufferedOutput) flushLoop() {
	defer close(b.done)
	t := time.NewTicker(logFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-b.stop:
			return
		}
	}
}

func (b *bufferedOutput) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending {
		_ = b.w.Flush()
		b.pending = false
	}
}

// Close writes what is left and stops the flusher; closing again does
// nothing.
func (b *bufferedOutput) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.flush()
	})
}

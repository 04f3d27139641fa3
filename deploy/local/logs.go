package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// console puts the output of every process on one writer, a whole line at a
// time, each line prefixed with the process name so interleaved logs stay
// readable; the same lines (unprefixed) go to the process's own log file.
type console struct {
	mu    sync.Mutex
	out   io.Writer
	color bool
	width int
	next  int
}

// Colours for the prefixes, picked in turn; red is left for nothing so a
// prefix never looks like an error.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newConsole(out io.Writer, color bool) *console {
	return &console{out: out, color: color, width: len("postgres")}
}

// fit widens the prefix column for names (call before creating writers).
func (c *console) fit(names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		c.width = max(c.width, len(n))
	}
}

// writer returns a line writer for name; file (may be nil) gets the raw lines.
func (c *console) writer(name string, file io.Writer) *lineWriter {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := fmt.Sprintf("%-*s ", c.width+2, "["+name+"]")
	if c.color {
		code := "1"
		if name != selfName {
			code = palette[c.next%len(palette)]
			c.next++
		}
		prefix = "\x1b[" + code + "m" + prefix + "\x1b[0m"
	}
	return &lineWriter{c: c, prefix: prefix, file: file, tail: newTail(40)}
}

// print writes text as it is, between whole lines of the processes.
func (c *console) print(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.out, text)
}

// lineWriter splits what a process writes into lines.
type lineWriter struct {
	c      *console
	prefix string
	file   io.Writer
	tail   *tail

	mu  sync.Mutex
	buf []byte
}

// maxLine bounds a line without a newline so one runaway write cannot hold
// the whole output back.
const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	// Every line that came in this write goes out in one write to the
	// file and one to the terminal: under load a read brings many.
	var file, out []byte
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		file, out = w.add(file, out, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxLine {
		file, out = w.add(file, out, w.buf)
		w.buf = nil
	}
	w.emit(file, out)
	return len(p), nil
}

// Printf writes one message as if the process had logged it.
func (w *lineWriter) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	_, _ = w.Write([]byte(msg))
}

// Flush emits a trailing line without a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.add(nil, nil, w.buf))
		w.buf = nil
	}
}

// add appends a line to what goes to the file and to the terminal.
func (w *lineWriter) add(file, out, line []byte) ([]byte, []byte) {
	line = bytes.TrimRight(line, "\r")
	w.tail.add(string(line))
	file = append(append(file, line...), '\n')
	out = append(append(append(out, w.prefix...), line...), '\n')
	return file, out
}

func (w *lineWriter) emit(file, out []byte) {
	if len(out) == 0 {
		return
	}
	if w.file != nil {
		_, _ = w.file.Write(file)
	}
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	_, _ = w.c.out.Write(out)
}

// Tail is the last lines written, oldest first.
func (w *lineWriter) Tail() []string { return w.tail.lines() }

// tail keeps the last n lines.
type tail struct {
	mu   sync.Mutex
	n    int
	buf  []string
	next int
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) < t.n {
		t.buf = append(t.buf, s)
		return
	}
	t.buf[t.next] = s
	t.next = (t.next + 1) % t.n
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(append([]string(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}

// fileTail is the last n lines of a log file, for processes whose output
// goes straight to a file (PostgreSQL).
func fileTail(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// indent formats log lines under an error message.
func indent(lines []string) string {
	if len(lines) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// openLog opens (appending) a process's log file under dir.
func openLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}

// isTerminal reports whether w is a terminal that should get colours.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

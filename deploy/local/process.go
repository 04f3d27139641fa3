package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// process is one running service binary.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *lineWriter
	log  *os.File

	stopping atomic.Bool
	done     chan struct{}
	err      error // set before done closes
}

// startProcess runs bin with env; its output goes to the console and to
// <logDir>/<name>.log. exited receives the process if it ends on its own.
func startProcess(name, bin string, env []string, con *console, logDir string, exited chan<- *process) (*process, error) {
	log, err := openLog(logDir, name)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "---- %s started by make run ----\n", time.Now().Format(time.RFC3339))
	p := &process{name: name, out: con.writer(name, log), log: log, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Its own process group keeps a terminal's Ctrl-C from reaching the
	// child before we stop it in order; Pdeathsig ends it if we are killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.out.Flush()
		close(p.done)
		if !p.stopping.Load() {
			exited <- p
		}
	}()
	return p, nil
}

// waitReady polls url (the service's /readyz) until it answers 200.
func (p *process) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return p.failure("exited while starting")
		case <-ctx.Done():
			select {
			case <-p.done:
				// Its own death may be what ended ctx.
				return p.failure("exited while starting")
			default:
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return p.failure(fmt.Sprintf("not ready after %s (%s answered: %s)", timeout, url, last))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// failure describes why the process is unusable, with its last log lines.
func (p *process) failure(what string) error {
	msg := p.name + " " + what
	select {
	case <-p.done:
		if p.err != nil {
			msg += " (" + p.err.Error() + ")"
		} else {
			msg += " (exit status 0)"
		}
	default:
	}
	return fmt.Errorf("%s; last lines of %s:\n%s", msg, p.log.Name(), indent(p.out.Tail()))
}

// signal asks the process to stop; it is no longer reported as exited.
func (p *process) signal(sig syscall.Signal) {
	p.stopping.Store(true)
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// stopAll sends SIGTERM to every process, waits up to grace for them, then
// kills what is left.
func stopAll(procs []*process, grace time.Duration, say *lineWriter) {
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			select {
			case <-p.done:
			case <-ctx.Done():
				say.Printf("%s did not stop within %s: killing it", p.name, grace)
				p.signal(syscall.SIGKILL)
				<-p.done
			}
			_ = p.log.Close()
		})
	}
	wg.Wait()
}

// supervisor starts services one after another and watches them: live
// ends, with the reason as its cause, as soon as one exits on its own.
type supervisor struct {
	live    context.Context
	die     context.CancelCauseFunc
	con     *console
	l       layout
	timeout time.Duration
	say     *lineWriter
	exited  chan *process
	procs   []*process
}

func newSupervisor(ctx context.Context, con *console, l layout, readyTimeout time.Duration, say *lineWriter) *supervisor {
	live, die := context.WithCancelCause(ctx)
	s := &supervisor{live: live, die: die, con: con, l: l, timeout: readyTimeout, say: say, exited: make(chan *process, 64)}
	go func() {
		select {
		case p := <-s.exited:
			die(p.failure("exited unexpectedly"))
		case <-live.Done():
		}
	}()
	return s
}

// start runs the service's binary and waits for its /readyz.
func (s *supervisor) start(svc service, env []string) error {
	p, err := startProcess(svc.Name, filepath.Join(s.l.bin(), svc.Name), env, s.con, s.l.logs(), s.exited)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	s.say.Printf("started %s (pid %d) on %s, waiting for /readyz", svc.Name, p.cmd.Process.Pid, svc.URL())
	return s.cause(p.waitReady(s.live, svc.URL()+"/readyz", s.timeout))
}

// cause turns an error from waiting on live into the death that ended it.
func (s *supervisor) cause(err error) error {
	if errors.Is(err, context.Canceled) && s.live.Err() != nil {
		if c := context.Cause(s.live); !errors.Is(c, context.Canceled) {
			return c
		}
	}
	return err
}

// stop ends every started service.
func (s *supervisor) stop(grace time.Duration) {
	defer s.die(nil)
	if len(s.procs) > 0 {
		s.say.Printf("stopping %d service(s)", len(s.procs))
		stopAll(s.procs, grace, s.say)
	}
}

// portFree reports an error when something already listens on port.
func portFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStopAllSendsSIGTERMAndKillsWhatIgnoresIt(t *testing.T) {
	dir := t.TempDir()
	polite := script(t, dir, "polite", `trap 'echo got SIGTERM; exit 0' TERM; echo up; while :; do sleep 0.05; done`)
	stubborn := script(t, dir, "stubborn", `trap 'echo ignoring SIGTERM' TERM; echo up; while :; do sleep 0.05; done`)
	var out syncBuffer
	con := newConsole(&out, false)
	exited := make(chan *process, 2)
	var procs []*process
	for name, bin := range map[string]string{"polite": polite, "stubborn": stubborn} {
		p, err := startProcess(name, bin, []string{"PATH=" + os.Getenv("PATH")}, con, filepath.Join(dir, "logs"), exited)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitFor(t, func() bool { return strings.Count(out.String(), "up") == 2 })

	began := time.Now()
	stopAll(procs, time.Second, con.writer(selfName, nil))
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stopping took %s", took)
	}
	select {
	case p := <-exited:
		t.Errorf("%s reported as exited unexpectedly while stopping", p.name)
	default:
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "polite.log"))
	if !bytes.Contains(log, []byte("got SIGTERM")) {
		t.Errorf("polite.log does not show the SIGTERM:\n%s", log)
	}
	if !strings.Contains(out.String(), "stubborn did not stop within 1s: killing it") {
		t.Errorf("the kill is not reported:\n%s", out.String())
	}
}

func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
)

// told counts the events of typ about each task.
func told(evs []events.Event, typ string) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		if e.Type == typ {
			out[e.Subject]++
		}
	}
	return out
}

// A task is reminded of lead before its due time and told overdue at it,
// once per due time: a new due time is a new occurrence, a task closed in
// time is told nothing, and one planned too late for its reminder gets
// none.
func TestDueTimeEventsComeOncePerOccurrence(t *testing.T) {
	h := start(t)
	admin := h.Token(h.tenantA, "ann", "admin", "t1")
	h.do("PATCH", "/v1/tasks/settings", admin, map[string]any{"reminder_minutes": 1}).Want(t, http.StatusOK)
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
	plan := func(subject string, due time.Duration) string {
		return h.do("POST", "/v1/tasks", admin, map[string]any{"subject": subject, "due_at": at(due)}).Want(t, http.StatusCreated).Str("id")
	}
	reminded := plan("reminded in 3 s", time.Minute+3*time.Second) // its reminder is 3 s away
	late := plan("overdue in 3 s", 3*time.Second)                  // too late for a reminder
	moved := plan("moved", 3*time.Second)
	done := plan("done in time", 4*time.Second)
	h.do("POST", "/v1/tasks/"+done+"/complete", admin, nil).Want(t, http.StatusOK)
	testenv.Eventually(t, "the overdue events", func() bool {
		evs := testenv.ReadEvents(t, h.Brokers, catalog.TasksTopic, 300*time.Millisecond)
		return told(evs, catalog.TaskOverdue)[late] == 1 && told(evs, catalog.TaskOverdue)[moved] == 1
	})
	// A new due time: a new occurrence, told again.
	h.do("PATCH", "/v1/tasks/"+moved, admin, map[string]any{"due_at": at(2 * time.Second)}).Want(t, http.StatusOK)
	testenv.Eventually(t, "the moved task's second overdue event", func() bool {
		return told(testenv.ReadEvents(t, h.Brokers, catalog.TasksTopic, 300*time.Millisecond), catalog.TaskOverdue)[moved] == 2
	})
	time.Sleep(3 * time.Second) // what else might come, comes
	evs := testenv.ReadEvents(t, h.Brokers, catalog.TasksTopic, 500*time.Millisecond)
	soon, overdue := told(evs, catalog.TaskDueSoon), told(evs, catalog.TaskOverdue)
	if soon[reminded] != 1 || overdue[reminded] != 0 || soon[late] != 0 || overdue[late] != 1 || overdue[moved] != 2 ||
		soon[done] != 0 || overdue[done] != 0 {
		t.Fatalf("due_soon %v, overdue %v (reminded %s, late %s, moved %s, done %s)", soon, overdue, reminded, late, moved, done)
	}
}

// Two replicas of tasks on one database, and one of them killed (SIGKILL)
// while a burst of tasks falls due: every task is told overdue exactly
// once, the dead replica's unfinished jobs run again on the other.
func TestTwoReplicasAndAKillTellEachTaskOnce(t *testing.T) {
	w := testenv.NewWorld(t, catalog.TasksTopic)
	key := filepath.Join(t.TempDir(), "issuer.pub.pem")
	if err := os.WriteFile(key, w.Issuer.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := testenv.BuildProgram(t, "tasks")
	ports := testenv.FreePorts(t, 2)
	replica := func(i int) (*testenv.Program, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", ports+i)
		env := []string{"DATABASE_URL=" + w.DB.AppURL, "MIGRATE_DATABASE_URL=" + w.DB.OwnerURL, "DATABASE_APP_ROLE=" + w.DB.AppRole,
			"KAFKA_BROKERS=" + strings.Join(w.Brokers, ","), "AUTH_PUBLIC_KEY_FILE=" + key, "HTTP_ADDR=" + addr, "LOG_LEVEL=warn",
			"CONTACTS_URL=http://127.0.0.1:9", "SALES_URL=http://127.0.0.1:9", "TIMERS_RESCUE=5s", "OPS_ADDR=",
			"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"}
		return testenv.StartProgram(t, bin, env, "http://"+addr+"/readyz"), "http://" + addr
	}
	first, url := replica(0)
	replica(1)
	tenant := w.Tenant("tasks")
	tok := w.Token(tenant, "ann", "admin", "t1")
	// 400 tasks fall due over two seconds, six seconds from now.
	const n = 400
	due := time.Now().Add(6 * time.Second)
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		at := due.Add(time.Duration(i) * 2 * time.Second / n).UTC().Format(time.RFC3339Nano)
		ids[testenv.Call(t, "POST", url+"/v1/tasks", tok, map[string]any{"subject": fmt.Sprint("burst ", i), "due_at": at}).
			Want(t, http.StatusCreated).Str("id")] = true
	}
	// The first replica dies in the middle of the burst.
	time.Sleep(time.Until(due.Add(time.Second)))
	first.Kill()
	var overdue map[string]int
	testenv.Eventually(t, "every task told overdue", func() bool {
		overdue = told(testenv.ReadEvents(t, w.Brokers, catalog.TasksTopic, 300*time.Millisecond), catalog.TaskOverdue)
		return len(overdue) == n
	})
	time.Sleep(7 * time.Second) // past the rescue of the dead replica's jobs
	overdue = told(testenv.ReadEvents(t, w.Brokers, catalog.TasksTopic, 500*time.Millisecond), catalog.TaskOverdue)
	for id := range ids {
		if overdue[id] != 1 {
			t.Errorf("task %s told overdue %d times", id, overdue[id])
		}
	}
	if len(overdue) != n {
		t.Errorf("%d tasks told overdue, want %d", len(overdue), n)
	}
}

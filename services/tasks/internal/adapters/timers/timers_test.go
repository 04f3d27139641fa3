package timers

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/tasks/internal/adapters/store"
)

// A timer a committed write scheduled is not scheduled again while its job
// waits; one about to come, another tenant's or another event's is.
func TestCommittedTimersAreNotScheduledAgainWhileTheyWait(t *testing.T) {
	q := &Queue{waiting: map[waitKey]time.Time{}}
	tenant, other := uuid.New(), uuid.New()
	later := time.Now().Add(time.Hour).Truncate(time.Second) // timers fall on whole seconds
	soon := time.Now().Add(500 * time.Millisecond)
	q.Committed(tenant, []store.Timer{{Event: store.Overdue, At: later}, {Event: store.Overdue, At: soon}})
	have := q.unseen(tenant, []store.Timer{
		{Event: store.Overdue, At: later.Add(300 * time.Millisecond)}, // the same second: waits
		{Event: store.DueSoon, At: later},
		{Event: store.Overdue, At: soon},
	})
	if len(have) != 2 || have[0].Event != store.DueSoon || !have[1].At.Equal(soon) {
		t.Fatalf("scheduled again: %+v", have)
	}
	if len(q.unseen(other, []store.Timer{{Event: store.Overdue, At: later}})) != 1 {
		t.Fatal("another tenant's timer was taken for this one's")
	}
	// Memory is bounded: past timers go first.
	for i := range maxWaiting {
		q.waiting[waitKey{tenant, store.Overdue, int64(i)}] = time.Unix(int64(i), 0)
	}
	q.Committed(tenant, []store.Timer{{Event: store.DueSoon, At: later}})
	if len(q.waiting) > 10 {
		t.Fatalf("%d timers remembered after the past ones went", len(q.waiting))
	}
}

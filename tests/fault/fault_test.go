// Package fault kills services with SIGKILL in the middle of their work and
// checks, after a restart, that nothing acknowledged was lost and nothing
// was done twice: the promise of the outbox, the inbox, the import job's
// batches and Idempotency-Key, tested on the real binaries, PostgreSQL and
// the Kafka protocol.
package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
	"github.com/rapportcrm/rapport/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// importRows is the size of the import killed in the middle.
const importRows = 100_000

// An import killed with SIGKILL in the middle finishes after the restart with
// exactly the file's rows: none lost, none twice, each announced once.
func TestImportSurvivesSIGKILL(t *testing.T) {
	w := newWorld(t)
	contacts := w.start("contacts")
	tok := w.token("admin", "")

	var csv bytes.Buffer
	csv.WriteString("first_name,last_name,emails,phones\n")
	for i := range importRows {
		fmt.Fprintf(&csv, "Имя%d,Фамилия%d,fault-%06d@example.com,+1202555%04d\n", i, i, i, i%10000)
	}
	job := testenv.Call(t, "POST", contacts.url+"/v1/imports?entity=contacts&on_duplicate=create", tok, csv.Bytes(),
		"Content-Type", "text/csv").Want(t, http.StatusAccepted)
	id := job.Str("id")

	// Kill it once some batches are stored and many are not.
	var done float64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := testenv.Call(t, "GET", contacts.url+"/v1/imports/"+id, tok, nil).Want(t, http.StatusOK)
		done, _ = j.Body["rows_done"].(float64)
		if done >= 5_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not start: %s", j.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if done >= importRows {
		t.Fatalf("the import finished before it could be killed (%v rows done)", done)
	}
	contacts.Kill()
	t.Logf("killed contacts with %v of %d rows done", done, importRows)

	contacts.Restart()
	var final testenv.Reply
	deadline = time.Now().Add(3 * time.Minute)
	for {
		final = testenv.Call(t, "GET", contacts.url+"/v1/imports/"+id, tok, nil).Want(t, http.StatusOK)
		if s := final.Str("status"); s == "done" || s == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not finish after the restart: %s", final.Raw)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for field, want := range map[string]float64{"rows_total": importRows, "rows_done": importRows, "created": importRows, "failed": 0, "skipped": 0} {
		if have, _ := final.Body[field].(float64); have != want {
			t.Errorf("%s: want %v, have %v (%s)", field, want, have, final.Raw)
		}
	}
	if final.Str("status") != "done" {
		t.Fatalf("status: want done, have %s", final.Raw)
	}
	if n := testenv.CountInTenant(t, w.contactsDB.AppURL, w.tenant, "select count(*) from contacts"); n != importRows {
		t.Errorf("contacts stored: want %d, have %d", importRows, n)
	}
	if n := testenv.CountInTenant(t, w.contactsDB.AppURL, w.tenant,
		"select count(distinct key) from contact_keys where key like 'email:fault-%'"); n != importRows {
		t.Errorf("distinct e-mails stored: want %d, have %d", importRows, n)
	}

	// Each contact is announced by exactly one crm.contacts.imported event
	// (a relay killed before deleting what it sent re-sends the same event
	// id, which consumers drop; a second event id would be a second import).
	announced := map[string]string{}
	for _, e := range w.events(t, "crm.contacts.events.v1", func(e events.Event) bool { return e.Type == "crm.contacts.imported" },
		func(got []events.Event) bool { return countImported(t, got) >= importRows }) {
		msg := &contactsv1.ContactsImported{}
		if err := e.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		for _, c := range msg.GetContacts() {
			if prev, ok := announced[c.GetId()]; ok && prev != e.ID.String() {
				t.Fatalf("contact %s announced by two events, %s and %s", c.GetId(), prev, e.ID)
			}
			announced[c.GetId()] = e.ID.String()
		}
	}
	if len(announced) != importRows {
		t.Errorf("contacts announced: want %d, have %d", importRows, len(announced))
	}
}

// Deal writes cut off by SIGKILL: every write the service acknowledged is
// there after the restart, exactly once, with its event; a client that
// retries what got no answer with the same Idempotency-Key ends with each
// deal once. The client waits out a key still claimed by the dead process
// (409 idempotency-key-in-flight, until the claim's lease lapses), and takes
// 409 idempotency-key-answer-lost (the create was carried out, its answer
// never stored) for the deal it names, which must be the one deal stored.
func TestDealWritesSurviveSIGKILL(t *testing.T) {
	w := newWorld(t)
	w.start("contacts")
	sales := w.start("sales")
	tok := w.token("admin", "")

	pipes := testenv.Call(t, "GET", sales.url+"/v1/pipelines", tok, nil).Want(t, http.StatusOK)
	stages := pipes.Body["items"].([]any)[0].(map[string]any)["stages"].([]any)
	second := stages[1].(map[string]any)["id"].(string)

	type outcome struct {
		key, title string
		id         string // "" when the create got no answer
		moved      bool   // the move to the second stage was acknowledged
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for worker := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				o := outcome{key: fmt.Sprintf("fault-%d-%d", worker, i), title: fmt.Sprintf("Сделка %d-%d", worker, i)}
				status, body := post(client, sales.url+"/v1/deals", tok, o.key, `{"title":"`+o.title+`"}`, "")
				if status == http.StatusCreated {
					o.id = body
					ms, _ := post(client, sales.url+"/v1/deals/"+o.id+"/move", tok, "", `{"stage_id":"`+second+`"}`, `"1"`)
					o.moved = ms == http.StatusOK
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if status == 0 {
					return // the service is gone
				}
			}
		})
	}
	// Kill it while the writers are busy.
	for {
		mu.Lock()
		n := len(outcomes)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sales.Kill()
	killed := time.Now()
	close(stop)
	wg.Wait()
	sales.Restart()

	acked, moved := 0, 0
	var tally retryTally
	for i, o := range outcomes {
		if o.id == "" {
			// The client retries what got no answer, with the same key.
			outcomes[i].id = createDeal(t, client, sales.url, tok, o.key, o.title, &tally)
			continue
		}
		acked++
		got := testenv.Call(t, "GET", sales.url+"/v1/deals/"+o.id, tok, nil).Want(t, http.StatusOK)
		if got.Str("title") != o.title {
			t.Errorf("deal %s: title %q, want %q", o.id, got.Str("title"), o.title)
		}
		if o.moved {
			moved++
			if got.Str("stage_id") != second {
				t.Errorf("deal %s: its acknowledged move was lost: %s", o.id, got.Raw)
			}
		}
		// A repeat of an acknowledged create replays it (or, when the process
		// died between answering and storing the answer, names it): no
		// second deal.
		if id := createDeal(t, client, sales.url, tok, o.key, o.title, &tally); id != o.id {
			t.Errorf("repeating %s: have deal %s, want %s", o.key, id, o.id)
		}
	}
	t.Logf("%d creates acknowledged (%d moves) before the kill, %d retried after it; after the restart %d answers were "+
		"idempotency-key-answer-lost, %d idempotency-key-in-flight (the last one %v after the kill)",
		acked, moved, len(outcomes)-acked, tally.lost, tally.inFlight, tally.lastInFlight.Sub(killed).Round(time.Second))
	if acked == 0 || acked == len(outcomes) {
		t.Fatalf("the kill did not land in the middle of the writes (%d of %d acknowledged)", acked, len(outcomes))
	}
	for _, o := range outcomes {
		if n := testenv.CountInTenant(t, w.salesDB.AppURL, w.tenant, "select count(*) from deals where title = $1", o.title); n != 1 {
			t.Errorf("deal %q stored %d times", o.title, n)
		}
		if o.moved {
			if n := testenv.CountInTenant(t, w.salesDB.AppURL, w.tenant,
				"select count(*) from deal_moves where deal_id = $1 and to_stage_id = $2", uuid.MustParse(o.id), uuid.MustParse(second)); n != 1 {
				t.Errorf("deal %s: the move is recorded %d times", o.id, n)
			}
		}
	}

	// Every deal has exactly one creation event (by event id).
	created := map[string]map[uuid.UUID]bool{}
	w.events(t, "crm.sales.events.v1", func(e events.Event) bool { return e.Type == "crm.deal.created" },
		func(got []events.Event) bool {
			clear(created)
			for _, e := range got {
				if created[e.Subject] == nil {
					created[e.Subject] = map[uuid.UUID]bool{}
				}
				created[e.Subject][e.ID] = true
			}
			return len(created) >= len(outcomes)
		})
	for _, o := range outcomes {
		if n := len(created[o.id]); n != 1 {
			t.Errorf("deal %s: %d crm.deal.created events, want 1", o.id, n)
		}
	}
}

// retryTally counts what the client met while retrying.
type retryTally struct {
	lost, inFlight int
	lastInFlight   time.Time
}

// createDeal creates the deal titled title with key as a client that got no
// answer does: it repeats the request with the same key, waiting out
// idempotency-key-in-flight with a growing backoff (up to about a minute),
// and takes idempotency-key-answer-lost for the one deal it names. Anything
// else fails the test. It answers the deal's id.
func createDeal(t *testing.T, c *http.Client, url, tok, key, title string, tally *retryTally) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	wait := 250 * time.Millisecond
	for {
		status, body := post(c, url+"/v1/deals", tok, key, `{"title":"`+title+`"}`, "")
		switch {
		case status == http.StatusCreated:
			return body
		case status == http.StatusConflict && strings.Contains(body, "/idempotency-key-in-flight"):
			tally.inFlight++
			tally.lastInFlight = time.Now()
			if time.Now().After(deadline) {
				t.Fatalf("creating %s: still in flight after a minute", key)
			}
			time.Sleep(wait)
			wait = min(2*wait, 4*time.Second)
		case status == http.StatusConflict && strings.Contains(body, "/idempotency-key-answer-lost"):
			tally.lost++
			var p struct {
				Records []struct{ Type, ID string } `json:"records"`
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("creating %s: %v in %s", key, err, body)
			}
			var ids []string
			for _, r := range p.Records {
				if r.Type == "crm.deal.created" {
					ids = append(ids, r.ID)
				}
			}
			if len(ids) != 1 {
				t.Fatalf("creating %s: the lost answer names %d created deals, want 1: %s", key, len(ids), body)
			}
			got := testenv.Call(t, "GET", url+"/v1/deals/"+ids[0], tok, nil).Want(t, http.StatusOK)
			if got.Str("title") != title {
				t.Fatalf("creating %s: the lost answer names deal %s titled %q, want %q", key, ids[0], got.Str("title"), title)
			}
			return ids[0]
		default:
			t.Fatalf("creating %s: status %d %s", key, status, body)
		}
	}
}

// post sends a JSON POST and answers the status (0 when no answer came) and
// the created record's id (or the body of a failure).
func post(c *http.Client, url, tok, key, body, ifMatch string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, buf.String()
	}
	return resp.StatusCode, idOf(buf.Bytes())
}

// events reads topic from its start until enough(matching events) holds or
// a minute passes, and returns the matching events.
func (w *world) events(t *testing.T, topic string, match func(events.Event) bool, enough func([]events.Event) bool) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var got []events.Event
	conn, err := kafka.DialContext(ctx, "tcp", w.brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: w.brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		wg.Go(func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				e, err := events.FromMessage(m)
				if err != nil || !match(e) {
					continue
				}
				mu.Lock()
				got = append(got, e)
				if enough(got) {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !enough(got) {
		t.Fatalf("%s: not enough events after a minute (%d matching)", topic, len(got))
	}
	return got
}

// countImported is how many contacts the distinct events of got announce: a
// relay killed between publishing and deleting sends an event again with its
// id, and a repeat must not count towards the total.
func countImported(t *testing.T, got []events.Event) int {
	n := 0
	seen := map[uuid.UUID]bool{}
	for _, e := range got {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		msg := &contactsv1.ContactsImported{}
		if err := e.Unmarshal(msg); err != nil {
			t.Error(err)
			return 0
		}
		n += len(msg.GetContacts())
	}
	return n
}

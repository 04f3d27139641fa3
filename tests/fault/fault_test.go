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

	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/pkg/events"
	contactsv1 "github.com/rapportcrm/rapport/pkg/gen/crm/contacts/v1"
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
	for _, e := range w.settledEvents(t, w.contactsDB, "crm.contacts.events.v1") {
		if e.Type != "crm.contacts.imported" {
			continue
		}
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
// there after the restart, exactly once, with its event (every event is read
// once the outbox is empty, to the end of every partition); a client that
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
		tried      bool   // the move to the second stage was sent
		moved      bool   // and acknowledged
	}
	var (
		mu         sync.Mutex
		outcomes   []outcome
		unexpected []string // answers before the kill other than success or none
		stop       = make(chan struct{})
		wg         sync.WaitGroup
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
				// A live service answers success; the kill leaves no answer
				// (0). Anything else is a failure, never a retry.
				status, body := post(client, sales.url+"/v1/deals", tok, o.key, `{"title":"`+o.title+`"}`, "")
				ms := http.StatusOK
				if status == http.StatusCreated {
					o.id, o.tried = body, true
					var moveBody string
					ms, moveBody = post(client, sales.url+"/v1/deals/"+o.id+"/move", tok, "", `{"stage_id":"`+second+`"}`, `"1"`)
					o.moved = ms == http.StatusOK
					if ms != http.StatusOK && ms != 0 {
						mu.Lock()
						unexpected = append(unexpected, fmt.Sprintf("move of %s: %d %s", o.id, ms, moveBody))
						mu.Unlock()
					}
				} else if status != 0 {
					mu.Lock()
					unexpected = append(unexpected, fmt.Sprintf("create %s: %d %s", o.key, status, body))
					mu.Unlock()
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if status != http.StatusCreated || ms != http.StatusOK {
					return // the service is gone, or the test failed
				}
			}
		})
	}
	// Kill it while the writers are busy.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n, failed := len(outcomes), len(unexpected)
		mu.Unlock()
		if n >= 300 || failed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes in two minutes", n)
		}
	}
	sales.Kill()
	killed := time.Now()
	close(stop)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("%d answers before the kill were neither a success nor no answer, e.g. %s", len(unexpected), unexpected[0])
	}
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
	movesStored, movedDeals := map[string]int{}, 0
	for _, o := range outcomes {
		if n := testenv.CountInTenant(t, w.salesDB.AppURL, w.tenant, "select count(*) from deals where title = $1", o.title); n != 1 {
			t.Errorf("deal %q stored %d times", o.title, n)
		}
		if o.tried {
			movesStored[o.id] = testenv.CountInTenant(t, w.salesDB.AppURL, w.tenant,
				"select count(*) from deal_moves where deal_id = $1 and to_stage_id = $2", uuid.MustParse(o.id), uuid.MustParse(second))
		}
		if movesStored[o.id] > 0 {
			movedDeals++
		}
		if movesStored[o.id] > 1 || o.moved && movesStored[o.id] != 1 {
			t.Errorf("deal %s: the move is recorded %d times", o.id, movesStored[o.id])
		}
	}

	// Every deal has exactly one creation event and, when it moved, one
	// stage change (by event id: a relay killed between publishing and
	// deleting sends an event again with its id, which consumers drop), and
	// no deal but these has any.
	created, changed := map[string]map[uuid.UUID]bool{}, map[string]map[uuid.UUID]bool{}
	for _, e := range w.settledEvents(t, w.salesDB, "crm.sales.events.v1") {
		var byDeal map[string]map[uuid.UUID]bool
		switch e.Type {
		case "crm.deal.created":
			byDeal = created
		case "crm.deal.stage_changed":
			byDeal = changed
		default:
			continue
		}
		if byDeal[e.Subject] == nil {
			byDeal[e.Subject] = map[uuid.UUID]bool{}
		}
		byDeal[e.Subject][e.ID] = true
	}
	for _, o := range outcomes {
		if n := len(created[o.id]); n != 1 {
			t.Errorf("deal %s: %d crm.deal.created events, want 1", o.id, n)
		}
		// A move that got no answer may have been stored or not: it has an
		// event exactly when it was.
		if n := len(changed[o.id]); n != movesStored[o.id] {
			t.Errorf("deal %s: %d crm.deal.stage_changed events, %d moves stored (acknowledged: %v)", o.id, n, movesStored[o.id], o.moved)
		}
	}
	if len(created) != len(outcomes) || len(changed) != movedDeals {
		t.Errorf("events of %d created and %d moved deals, want %d and %d", len(created), len(changed), len(outcomes), movedDeals)
	}
	t.Logf("events: %d crm.deal.created, %d crm.deal.stage_changed (distinct ids)", countIDs(created), countIDs(changed))
}

func countIDs(m map[string]map[uuid.UUID]bool) int {
	n := 0
	for _, ids := range m {
		n += len(ids)
	}
	return n
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

// settledEvents waits until the world's tenant has nothing left in db's
// outbox (every event written is published), then reads every partition of
// topic from its start to its high-water mark: every event, repeats of an
// event id included, not merely enough of them.
func (w *world) settledEvents(t *testing.T, db pgcluster.Database, topic string) []events.Event {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		n := testenv.CountInTenant(t, db.AppURL, w.tenant, "select count(*) from outbox")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d events still in the outbox after two minutes", topic, n)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", w.brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []events.Event
	for _, p := range parts {
		leader, err := kafka.DialLeader(ctx, "tcp", w.brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := leader.ReadOffsets()
		_ = leader.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: w.brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			t.Fatal(err)
		}
		for read := first; ; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				_ = r.Close()
				t.Fatalf("%s/%d: read to offset %d of %d: %v", topic, p.ID, read, last, err)
			}
			read = m.Offset + 1
			if e, err := events.FromMessage(m); err == nil {
				got = append(got, e)
			} else {
				t.Errorf("%s/%d@%d: %v", topic, p.ID, m.Offset, err)
			}
			if m.Offset >= last-1 {
				break
			}
		}
		_ = r.Close()
	}
	return got
}

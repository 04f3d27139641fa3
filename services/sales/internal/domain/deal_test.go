package domain

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func testPipeline() *Pipeline {
	id := uuid.New()
	return UnmarshalPipelineFromDatabase(id, uuid.New(), "Sales", []Stage{
		{ID: uuid.New(), PipelineID: id, Name: "New", Kind: KindOpen},
		{ID: uuid.New(), PipelineID: id, Name: "Proposal", Kind: KindOpen, RequiredFields: []string{"amount"}},
		{ID: uuid.New(), PipelineID: id, Name: "Won", Kind: KindWon},
		{ID: uuid.New(), PipelineID: id, Name: "Lost", Kind: KindLost},
	}, 1, time.Now(), time.Now())
}

func ptr[T any](v T) *T { return &v }

func TestNewDealStartsAtTheFirstOpenStageWithTheBaseCurrency(t *testing.T) {
	p, now := testPipeline(), time.Now()
	d, err := NewDeal(uuid.New(), DealPatch{Title: ptr("  Fleet renewal "), Tags: &[]string{"VIP", "vip", " b2b"}}, p, nil, "RUB", "ru", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title() != "Fleet renewal" || d.Currency() != "RUB" || d.StageID() != p.stages[0].ID || d.Status() != KindOpen ||
		d.Version() != 1 || d.Amount() != nil || len(d.Tags()) != 2 || d.Custom() == nil || !d.StageEnteredAt().Equal(now) {
		t.Fatalf("new deal: %+v", d)
	}
	if _, err := NewDeal(uuid.New(), DealPatch{}, p, nil, "RUB", "ru", nil, now); fieldMessage(err, "title") != "is required" {
		t.Errorf("a deal without a title: %v", err)
	}
	if _, err := NewDeal(uuid.New(), DealPatch{Title: ptr("x")}, p, &p.stages[1].ID, "RUB", "ru", nil, now); err == nil {
		t.Error("a deal entered a stage that requires an amount without one")
	}
	if _, err := NewDeal(uuid.New(), DealPatch{Title: ptr("x")}, p, &p.stages[2].ID, "RUB", "ru", nil, now); fieldMessage(err, "stage_id") == "" {
		t.Errorf("a new deal in a won stage: %v", err)
	}
}

func TestApplyTellsAnAbsentAmountFromAClearedOne(t *testing.T) {
	p := testPipeline()
	d, err := NewDeal(uuid.New(), DealPatch{Title: ptr("x"), Amount: &AmountChange{Minor: 150000}}, p, nil, "RUB", "ru", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(p, DealPatch{Title: ptr("y")}, nil, "ru"); err != nil || d.Amount() == nil || *d.Amount() != 150000 {
		t.Fatalf("a patch without amount changed it: %v %v", err, d.Amount())
	}
	if err := d.Apply(p, DealPatch{Amount: &AmountChange{Unknown: true}}, nil, "ru"); err != nil || d.Amount() != nil {
		t.Fatalf("a null amount did not clear it: %v %v", err, d.Amount())
	}
	if _, err := d.MoveTo(p, p.stages[1].ID, "u1", time.Now()); err == nil {
		t.Fatal("moved without the amount the stage requires")
	}
	if err := d.Apply(p, DealPatch{Amount: &AmountChange{Minor: 1}}, nil, "ru"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MoveTo(p, p.stages[1].ID, "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The stage keeps demanding what it demanded on entry.
	if err := d.Apply(p, DealPatch{Amount: &AmountChange{Unknown: true}}, nil, "ru"); err == nil {
		t.Error("cleared an amount its stage requires")
	}
}

func TestLoseRecordsTheReasonAndReopenForgetsIt(t *testing.T) {
	p := testPipeline()
	d, err := NewDeal(uuid.New(), DealPatch{Title: ptr("x")}, p, nil, "RUB", "ru", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reason := uuid.New()
	tr, err := d.Lose(p, uuid.Nil, reason, "too expensive", "u1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.Status() != KindLost || d.LossReasonID() != reason || d.LossComment() != "too expensive" || d.ClosedAt() == nil || tr.ToStageID != p.stages[3].ID {
		t.Fatalf("lost deal: %+v", d.Standing())
	}
	if _, err := d.Lose(p, uuid.Nil, reason, "", "u1", time.Now()); err == nil {
		t.Error("lost a deal twice")
	}
	if _, err := d.Reopen(p, uuid.Nil, []Move{tr.Move}, "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if d.Status() != KindOpen || d.LossReasonID() != uuid.Nil || d.LossComment() != "" || d.ClosedAt() != nil {
		t.Fatalf("reopened deal: %+v", d.Standing())
	}
}

func TestUnmarshalDealFromDatabaseKeepsWhatWasStored(t *testing.T) {
	id, tenant, now := uuid.New(), uuid.New(), time.Now()
	v := DealValues{Title: "x", Currency: "USD", OwnerID: "u1"}
	st := DealStanding{PipelineID: uuid.New(), StageID: uuid.New(), Status: KindWon, ClosedAt: &now}
	d := UnmarshalDealFromDatabase(id, tenant, v, st, 7, now, now)
	if d.ID() != id || d.TenantID() != tenant || d.Version() != 7 || d.Status() != KindWon || d.Tags() == nil || d.Custom() == nil {
		t.Fatalf("unmarshalled: %+v", d)
	}
	d.Advance(now.Add(time.Second))
	if d.Version() != 8 || !d.UpdatedAt().Equal(now.Add(time.Second)) || !d.CreatedAt().Equal(now) {
		t.Fatalf("advanced: version %d updated %v", d.Version(), d.UpdatedAt())
	}
}

func TestAPipelineHandsOutCopiesOfItsStages(t *testing.T) {
	p := testPipeline()
	first := p.Stages()[0]
	p.Stages()[0].Name = "Changed"
	p.Stage(first.ID).Kind = KindWon
	p.FirstOf(KindOpen).Probability = 99
	if st := p.Stage(first.ID); st.Name != "New" || st.Kind != KindOpen || st.Probability != first.Probability {
		t.Fatalf("a copy changed the pipeline: %+v", st)
	}
	v := p.Version()
	p.Advance(time.Now())
	if p.Version() != v+1 {
		t.Errorf("version %d after Advance from %d", p.Version(), v)
	}
}

func TestALossReasonChangesThroughItsMethods(t *testing.T) {
	r, err := NewLossReason("  Too expensive ", 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "Too expensive" || r.Position() != 3 || r.Version() != 1 || r.Archived() {
		t.Fatalf("new reason: %+v", r)
	}
	if err := r.Rename(""); err == nil || r.Name() != "Too expensive" {
		t.Errorf("an empty name was taken: %v %q", err, r.Name())
	}
	r.Archive(true)
	r.Advance(time.Now())
	if !r.Archived() || r.Version() != 2 {
		t.Errorf("archived %v version %d", r.Archived(), r.Version())
	}
}

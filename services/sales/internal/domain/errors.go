// Package domain holds the sales model: pipelines and their stages, deals and
// their moves, loss reasons and currency rates, with the rules every write
// must keep. It knows nothing of HTTP, SQL or Kafka.
package domain

import "github.com/rapportcrm/rapport/pkg/apperr"

// Not found answers both a missing record and another tenant's.
var (
	ErrPipelineNotFound   = apperr.NotFound("pipeline")
	ErrStageNotFound      = apperr.NotFound("stage")
	ErrDealNotFound       = apperr.NotFound("deal")
	ErrLossReasonNotFound = apperr.NotFound("loss reason")
)

// ErrStageHasDeals refuses to delete a stage that still holds deals.
var ErrStageHasDeals = apperr.New(apperr.KindConflict, "stage-has-deals",
	"the stage still holds deals; repeat with ?move_to=<stage id> to move them to another stage of the pipeline first")

// ErrPipelineHasDeals refuses to delete a pipeline that still holds deals.
var ErrPipelineHasDeals = apperr.New(apperr.KindConflict, "pipeline-has-deals",
	"the pipeline still holds deals; move or delete them first")

// ErrLastOpenStage refuses a change that would leave a pipeline without an
// open stage, where new deals start.
var ErrLastOpenStage = apperr.New(apperr.KindConflict, "last-open-stage",
	"a pipeline needs at least one open stage: new deals start there")

// ErrDealClosed refuses a move, win or loss of a deal already won or lost.
func ErrDealClosed(status Status) error {
	e := apperr.New(apperr.KindConflict, "deal-closed",
		"the deal is already "+string(status)+"; reopen it first")
	e.Extensions = map[string]any{"deal_status": string(status)}
	return e
}

// ErrDealOpen refuses to reopen a deal that is not closed.
var ErrDealOpen = apperr.New(apperr.KindConflict, "deal-open", "the deal is open; only a won or lost deal can be reopened")

// ErrNoStageOfKind is a win or loss in a pipeline without such a stage.
func ErrNoStageOfKind(kind Kind) error {
	return apperr.New(apperr.KindConflict, "no-"+string(kind)+"-stage",
		"the pipeline has no "+string(kind)+" stage; add one first")
}

// invalid is a one-field validation error.
func invalid(field, message string) error {
	var v apperr.Invalid
	v.Add(field, message)
	return v.Err()
}

// ErrMissingRequired lists the fields a stage demands that the deal lacks.
func ErrMissingRequired(stage string, fields []string) error {
	var v apperr.Invalid
	for _, f := range fields {
		v.Add(f, "is required before the deal enters stage "+stage)
	}
	e := v.Err().(*apperr.Error)
	e.Slug = "stage-requirements"
	e.Message = "the deal lacks fields stage " + stage + " requires"
	return e
}

package domain

import "github.com/rapportcrm/rapport/pkg/apperr"

// ErrContactNotFound answers both a missing contact and another tenant's.
var ErrContactNotFound = apperr.NotFound("contact")

// ErrVersionMismatch is a stale If-Match.
var ErrVersionMismatch = apperr.New(apperr.KindPreconditionFailed, "version-mismatch",
	"the contact changed since you read it; fetch it again and retry")

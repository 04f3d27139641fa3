// Package endpoint adapts the contacts service to go-kit endpoints. Responses
// carry business errors (endpoint.Failer) so transports render them. Each
// group of endpoints is built over the interface of its use case group
// (MakeContacts over service.Contacts, MakeCompanies over service.Companies,
// and so on), so it depends on those few methods only.
package endpoint

import (
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// Endpoints collects the contacts endpoints served as JSON, one embedded
// group per use case group; their fields are promoted (e.Create,
// e.GetCompany, e.Timeline, ...).
type Endpoints struct {
	ContactEndpoints
	CompanyEndpoints
	ActivityEndpoints
	TimelineEndpoints
	PrivacyEndpoints
	ExportEndpoints
	FieldEndpoints
	MergeEndpoints
}

// Make builds the endpoints over s, each observed by o under its method name.
func Make(s *service.Service, o *observe.Observer) Endpoints {
	return Endpoints{
		ContactEndpoints:  MakeContacts(s, o),
		CompanyEndpoints:  MakeCompanies(s, o),
		ActivityEndpoints: MakeActivities(s, o),
		TimelineEndpoints: MakeTimeline(s, o),
		PrivacyEndpoints:  MakePrivacy(s, o),
		ExportEndpoints:   MakeExports(s, o),
		FieldEndpoints:    MakeFields(s, o),
		MergeEndpoints:    MakeMerges(s, o),
	}
}

type (
	GetRequest struct{ ID uuid.UUID }
	// DeleteRequest deletes or erases a record under If-Match.
	DeleteRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
	}
)

// DeleteResponse answers a delete.
type DeleteResponse struct{ Err error }

func (r DeleteResponse) Failed() error { return r.Err }

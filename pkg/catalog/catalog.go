// Package catalog names every Rapport service once: what it is called, the
// topic it publishes and the event types on it, the API collections the
// gateway routes to it, whether a tenant waits for its acknowledgement, and
// which of its entities carry custom fields. The operator's default
// required services, the gateway's routing, deploy/local and contacts'
// timeline sources are derived from it, or held to it by a test, so a new
// service is one entry here.
package catalog

import "slices"

// Service is one domain service of the platform.
type Service struct {
	// Name is the service's name in acknowledgements, consumer groups,
	// telemetry, programs (services/<name>/cmd/<name>) and <NAME>_URL.
	Name string
	// Topic is the topic of the events it publishes.
	Topic string
	// Collections are the first path segments under /v1/ that the gateway
	// routes to it (the collection of /v1/<collection>/...).
	Collections []string
	// Acknowledges tells whether a tenant is Ready only once this service
	// has acknowledged its record.
	Acknowledges bool
	// AboutContacts tells whether its events name contacts (the contactid
	// extension), so that contacts' timeline files them.
	AboutContacts bool
	// Events are the event types it publishes (the constants below).
	Events []string
	// FieldEntities are its entities that carry custom fields (their
	// definitions are contacts' /v1/fields, entity one of these).
	FieldEntities []string
}

// Topics of the platform's own services.
const (
	ContactsTopic = "crm.contacts.events.v1"
	SalesTopic    = "crm.sales.events.v1"
	TasksTopic    = "crm.tasks.events.v1"
)

// Event types contacts publishes.
const (
	ContactCreated     = "crm.contact.created"
	ContactUpdated     = "crm.contact.updated"
	ContactDeleted     = "crm.contact.deleted"
	ContactMerged      = "crm.contact.merged"
	ContactUnmerged    = "crm.contact.unmerged"
	ContactErased      = "crm.contact.erased"
	ContactsImported   = "crm.contacts.imported"
	CompanyCreated     = "crm.company.created"
	CompanyUpdated     = "crm.company.updated"
	CompanyDeleted     = "crm.company.deleted"
	CompaniesImported  = "crm.companies.imported"
	ActivityLogged     = "crm.activity.logged"
	ActivityDeleted    = "crm.activity.deleted"
	FieldDefined       = "crm.field.defined"
	FieldChanged       = "crm.field.changed"
	FieldDeleted       = "crm.field.deleted"
	LeadSourcesChanged = "crm.lead_sources.changed"
)

// Event types sales publishes.
const (
	DealCreated      = "crm.deal.created"
	DealUpdated      = "crm.deal.updated"
	DealStageChanged = "crm.deal.stage_changed"
	DealWon          = "crm.deal.won"
	DealLost         = "crm.deal.lost"
	DealReopened     = "crm.deal.reopened"
	DealDeleted      = "crm.deal.deleted"
	PipelineChanged  = "crm.pipeline.changed"
)

// Event types tasks publishes.
const (
	TaskCreated   = "crm.task.created"
	TaskUpdated   = "crm.task.updated"
	TaskCompleted = "crm.task.completed"
	TaskCancelled = "crm.task.cancelled"
	TaskDeleted   = "crm.task.deleted"
	// TaskRescheduled is the next attempt an outcome planned.
	TaskRescheduled = "crm.task.rescheduled"
	// TaskAttemptsExhausted ends a chain of attempts that never reached the client.
	TaskAttemptsExhausted = "crm.task.attempts_exhausted"
	// TaskDueSoon reminds of a task due within the tenant's lead time.
	TaskDueSoon = "crm.task.due_soon"
	// TaskOverdue tells that an open task's due time has passed.
	TaskOverdue = "crm.task.overdue"
)

// Entities that carry custom fields.
const (
	EntityContact = "contact"
	EntityCompany = "company"
	EntityDeal    = "deal"
)

// Services are the platform's domain services, in the order their ports
// are given out locally (contacts 8081, sales 8082, ...).
var Services = []Service{
	{Name: "contacts", Topic: ContactsTopic, Acknowledges: true, AboutContacts: true,
		Collections: []string{"contacts", "companies", "fields", "activities", "imports", "lead-sources"},
		Events: []string{ContactCreated, ContactUpdated, ContactDeleted, ContactMerged, ContactUnmerged, ContactErased,
			ContactsImported, CompanyCreated, CompanyUpdated, CompanyDeleted, CompaniesImported, ActivityLogged,
			ActivityDeleted, FieldDefined, FieldChanged, FieldDeleted, LeadSourcesChanged},
		FieldEntities: []string{EntityContact, EntityCompany}},
	{Name: "sales", Topic: SalesTopic, Acknowledges: true, AboutContacts: true,
		Collections: []string{"sales", "pipelines", "deals", "loss-reasons", "currency-rates"},
		Events: []string{DealCreated, DealUpdated, DealStageChanged, DealWon, DealLost, DealReopened, DealDeleted,
			PipelineChanged},
		FieldEntities: []string{EntityDeal}},
	{Name: "tasks", Topic: TasksTopic, Acknowledges: true, AboutContacts: true, Collections: []string{"tasks", "outcomes", "calendars"},
		Events: []string{TaskCreated, TaskUpdated, TaskCompleted, TaskCancelled, TaskDeleted, TaskRescheduled, TaskAttemptsExhausted,
			TaskDueSoon, TaskOverdue}},
}

// Names are the services' names, in order.
func Names() []string {
	out := make([]string, 0, len(Services))
	for _, s := range Services {
		out = append(out, s.Name)
	}
	return out
}

// Acknowledging are the names of the services a tenant waits for.
func Acknowledging() []string {
	var out []string
	for _, s := range Services {
		if s.Acknowledges {
			out = append(out, s.Name)
		}
	}
	return out
}

// Topics are the services' topics, in order.
func Topics() []string {
	out := make([]string, 0, len(Services))
	for _, s := range Services {
		out = append(out, s.Topic)
	}
	return out
}

// TopicsAboutContacts are the topics, other than except's own, whose events
// name contacts.
func TopicsAboutContacts(except string) []string {
	var out []string
	for _, s := range Services {
		if s.AboutContacts && s.Name != except {
			out = append(out, s.Topic)
		}
	}
	return out
}

// FieldEntities are every service's entities that carry custom fields, in
// order.
func FieldEntities() []string {
	var out []string
	for _, s := range Services {
		out = append(out, s.FieldEntities...)
	}
	return out
}

// Publisher is the service that publishes events of type typ.
func Publisher(typ string) (Service, bool) {
	i := slices.IndexFunc(Services, func(s Service) bool { return slices.Contains(s.Events, typ) })
	if i < 0 {
		return Service{}, false
	}
	return Services[i], true
}

// Lookup is the service named name.
func Lookup(name string) (Service, bool) {
	i := slices.IndexFunc(Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return Services[i], true
}

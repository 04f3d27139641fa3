// Package catalog names every Rapport service once: what it is called, the
// topic it publishes, the API collections the gateway routes to it, and
// whether a tenant waits for its acknowledgement. The operator's default
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
}

// Topics of the platform's own services.
const (
	ContactsTopic = "crm.contacts.events.v1"
	SalesTopic    = "crm.sales.events.v1"
)

// Services are the platform's domain services, in the order their ports
// are given out locally (contacts 8081, sales 8082, ...).
var Services = []Service{
	{Name: "contacts", Topic: ContactsTopic, Acknowledges: true, AboutContacts: true,
		Collections: []string{"contacts", "companies", "fields", "activities", "imports", "lead-sources"}},
	{Name: "sales", Topic: SalesTopic, Acknowledges: true, AboutContacts: true,
		Collections: []string{"sales", "pipelines", "deals", "loss-reasons", "currency-rates"}},
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

// Lookup is the service named name.
func Lookup(name string) (Service, bool) {
	i := slices.IndexFunc(Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return Services[i], true
}

package main

import "github.com/rapportcrm/rapport/pkg/tenancy"

// topic is one Kafka topic the platform needs before any service starts.
type topic struct {
	Name       string
	Partitions int
	Configs    map[string]string
}

// topics is every topic `make run` creates: each service's events
// (DESIGN.md §6; the contacts timeline already reads the topics of services
// still to come) and the tenancy control topics.
var topics = []topic{
	{Name: "crm.contacts.events.v1", Partitions: 6},
	{Name: "crm.sales.events.v1", Partitions: 6},
	{Name: "crm.tasks.events.v1", Partitions: 6},
	{Name: "crm.documents.events.v1", Partitions: 6},
	{Name: tenancy.TopicTenants, Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}},
	{Name: tenancy.TopicAcks, Partitions: 3},
}

package main

import "github.com/rapportcrm/rapport/pkg/tenancy"

// topic is one Kafka topic the platform needs before any service starts.
type topic struct {
	Name       string
	Partitions int
	Configs    map[string]string
}

// topics is every topic `make run` creates: a service that produces events
// adds its crm.<service>.events.v1 here.
var topics = []topic{
	{Name: "crm.contacts.events.v1", Partitions: 6},
	{Name: tenancy.TopicTenants, Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}},
	{Name: tenancy.TopicAcks, Partitions: 3},
}

package main

import (
	"github.com/rapportcrm/rapport/pkg/catalog"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// topic is one Kafka topic the platform needs before any service starts.
type topic struct {
	Name       string
	Partitions int
	Configs    map[string]string
}

// topics is every topic `make run` creates: each catalogued service's
// events (DESIGN.md §6) and the tenancy control topics.
var topics = func() []topic {
	var ts []topic
	for _, name := range catalog.Topics() {
		ts = append(ts, topic{Name: name, Partitions: 6})
	}
	return append(ts,
		topic{Name: tenancy.TopicTenants, Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}},
		topic{Name: tenancy.TopicAcks, Partitions: 3})
}()

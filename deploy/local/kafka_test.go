package main

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

func TestCreateTopicsIsIdempotentAndCompactsTenants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := testenv.Kafka(t)

	for run := 1; run <= 2; run++ {
		if err := createTopics(ctx, brokers, topics); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}

	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]int{}
	for _, tp := range meta.Topics {
		have[tp.Name] = len(tp.Partitions)
	}
	for _, tp := range topics {
		if have[tp.Name] != tp.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", tp.Name, have[tp.Name], tp.Partitions)
		}
	}

	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "crm.tenants.v1", ConfigNames: []string{"cleanup.policy"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var policy string
	for _, r := range resp.Resources {
		if r.Error != nil {
			t.Fatalf("describe %s: %v", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				policy = e.ConfigValue
			}
		}
	}
	if policy != "compact" {
		t.Fatalf("crm.tenants.v1 cleanup.policy = %q, want compact", policy)
	}
}

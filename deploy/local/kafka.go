package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// embeddedKafka is the in-process kfake broker, persisted in the data folder.
type embeddedKafka struct {
	cluster *kfake.Cluster
	log     *os.File
}

// startKafka starts a one-broker kfake cluster on 127.0.0.1:port that keeps
// its topics and offsets in the data folder across runs.
func startKafka(l layout, port int, say *lineWriter) (*embeddedKafka, []string, error) {
	log, err := openLog(l.logs(), "kafka")
	if err != nil {
		return nil, nil, err
	}
	say.Printf("starting the embedded Kafka broker (kfake) on 127.0.0.1:%d (data %s)", port, l.kafka())
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(l.kafka()),
		// Like a stock Kafka broker: dead-letter topics appear on first use.
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(3),
		kfake.WithLogger(kfake.BasicLogger(log, kfake.LogLevelWarn)),
	)
	if err != nil {
		_ = log.Close()
		return nil, nil, fmt.Errorf("start the embedded Kafka broker: %w", err)
	}
	return &embeddedKafka{cluster: c, log: log}, c.ListenAddrs(), nil
}

// stop closes the broker, which writes its state to the data folder.
func (k *embeddedKafka) stop() {
	k.cluster.Close()
	_ = k.log.Close()
}

// createTopics creates every topic in ts that does not exist yet. It retries
// while the brokers are unreachable, for a real broker that is still starting.
func createTopics(ctx context.Context, brokers []string, ts []topic) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range ts {
		cfg := kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: -1}
		keys := make([]string, 0, len(t.Configs))
		for k := range t.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cfg.ConfigEntries = append(cfg.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: t.Configs[k]})
		}
		req.Topics = append(req.Topics, cfg)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		resp, err := client.CreateTopics(ctx, req)
		if err == nil {
			var errs []error
			for _, t := range ts {
				if err := resp.Errors[t.Name]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
					errs = append(errs, fmt.Errorf("create topic %s: %w", t.Name, err))
				}
			}
			return errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create topics on %v: %w", brokers, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

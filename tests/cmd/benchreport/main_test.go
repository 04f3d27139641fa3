package main

import (
	"strings"
	"testing"
)

func TestParseAndRenderJudgesBudgets(t *testing.T) {
	in := `goos: linux
BenchmarkOutboxToConsumer-2   	       1	9000000000 ns/op	      2100 events/s	        12.5 p50-ms	       300 p99-ms
BenchmarkOther-2   	       3	100 ns/op	 7 widgets
BenchmarkCreateContactViaGateway/access-log   	       1	100 ns/op	 1900 req/s
PASS
`
	rows, raw, err := parse(strings.NewReader(in))
	if err != nil || len(rows) != 8 || !strings.Contains(raw, "PASS") {
		t.Fatalf("have %d rows, %v", len(rows), err)
	}
	md := render(rows, raw)
	for _, want := range []string{
		"| OutboxToConsumer | events/s | 2100 | — |  |",
		"| OutboxToConsumer | p99-ms | 300 | p99 ≤ 250 ms | no |",
		"| Other | widgets | 7 | — |  |",
		"| CreateContactViaGateway/access-log | req/s | 1900 | ≥ 2,000 req/s | no |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if strings.Contains(md, "ns/op |") {
		t.Error("ns/op is not a budget metric and should be left out of the table")
	}
}

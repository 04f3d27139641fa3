// Command benchreport turns `go test -bench` output (stdin) into
// BENCHMARKS.md: every reported metric of every benchmark, next to its
// budget from DESIGN.md §13, with the date and the machine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// budget says what a metric must reach; above means higher is better.
type budget struct {
	limit float64
	above bool
	text  string
}

// budgets are DESIGN.md §13's, keyed by benchmark name and metric unit.
var budgets = map[string]budget{
	"OutboxToConsumer/p99-ms":        {250, false, "p99 ≤ 250 ms"},
	"CreateContactViaGateway/req/s":  {2000, true, "≥ 2,000 req/s"},
	"CreateContactViaGateway/p99-ms": {50, false, "p99 ≤ 50 ms"},
	"Search/p95-ms":                  {30, false, "p95 ≤ 30 ms"},
	"Import/import-s":                {20, false, "≤ 20 s for 1,000,000 rows"},
	"Import/x-copy":                  {0.5, true, "≥ 0.5× raw \\copy"},
	"Board/p95-ms":                   {100, false, "p95 ≤ 100 ms over 1,000,000 deals"},
	"TenantToReady/ready-ms":         {5000, false, "≤ 5 s"},
	"Tenants500ToReady/all-ready-s":  {60, false, "≤ 60 s for 500 tenants"},
	"NextTask/p95-ms":                {10, false, "p95 ≤ 10 ms over 1,000,000 open tasks of 1,000 users"},
	"CompleteWithNext/req/s":         {1000, true, "≥ 1,000 req/s"},
	"CompleteWithNext/p99-ms":        {50, false, "p99 ≤ 50 ms"},
	"DueSoonBurst/told-p99-s":        {5, false, "p99 ≤ 5 s for 100,000 due in one minute"},
	"DueSoonBurst/published-p99-s":   {5, false, "p99 ≤ 5 s for 100,000 due in one minute"},
	"WebApp/initial-js-KB":           {150, false, "≤ 150 KB gzipped"},
	"WebApp/ready-p95-ms":            {1500, false, "first page interactive ≤ 1.5 s"},
	"WebApp/move-shown-p95-ms":       {100, false, "a drag shown ≤ 100 ms"},
	"WebApp/move-reconciled-p95-ms":  {1000, false, "sums reconcile ≤ 1 s"},
	"WebSearch/search-p95-ms":        {300, false, "results ≤ 300 ms after the last keystroke, 1,000,000 contacts"},
	"WebSearch/scroll-frame-p95-ms":  {33, false, "smooth: p95 frame ≤ 33 ms scrolling 1,000,000 contacts (our measure of the issue's \"stays smooth\")"},
}

type row struct {
	bench, unit string
	value       float64
}

func main() {
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	flag.Parse()
	rows, raw, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark results on stdin")
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(render(rows, raw)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// parse reads lines like
// "BenchmarkX-2   1   123 ns/op   2100 events/s   12.5 p99-ms".
func parse(r io.Reader) ([]row, string, error) {
	var rows []row
	var raw strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		// Drop the -GOMAXPROCS suffix, not a dash inside a sub-benchmark name.
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			rows = append(rows, row{bench: name, unit: f[i+1], value: v})
		}
	}
	return rows, raw.String(), sc.Err()
}

func render(rows []row, raw string) string {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].bench < rows[j].bench })
	var b strings.Builder
	b.WriteString("# Benchmarks\n\nWritten by `make bench` (DESIGN.md §13 budgets, measured on a 2-core machine).\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- go: %s %s/%s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	b.WriteString("| benchmark | metric | value | budget | within |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		if r.unit == "ns/op" {
			continue
		}
		// Sub-benchmarks (Name/variant) answer to their benchmark's budget.
		bud, ok := budgets[strings.SplitN(r.bench, "/", 2)[0]+"/"+r.unit]
		verdict, text := "", "—"
		if ok {
			text = bud.text
			verdict = "no"
			if (bud.above && r.value >= bud.limit) || (!bud.above && r.value <= bud.limit) {
				verdict = "yes"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.bench, r.unit, strconv.FormatFloat(r.value, 'f', -1, 64), text, verdict)
	}
	b.WriteString("\n<details><summary>raw output</summary>\n\n```\n" + raw + "```\n</details>\n")
	return b.String()
}

func machine() string {
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		if len(f) >= 2 {
			if kb, err := strconv.Atoi(f[1]); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores, %s%s", runtime.NumCPU(), model, mem)
}

// Package readiness answers whether the gateway can serve: every upstream
// says it is ready and the tenant directory is being kept current.
package readiness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds each upstream's /readyz probe.
const DefaultTimeout = 2 * time.Second

// Checker probes the upstreams on demand; nothing is cached, so /readyz
// reflects the moment it is asked.
type Checker struct {
	upstreams map[string]*url.URL
	client    *http.Client
	timeout   time.Duration
	directory atomic.Bool
}

// NewChecker checks the upstreams' /readyz with timeout per probe.
func NewChecker(upstreams map[string]*url.URL, timeout time.Duration) *Checker {
	return &Checker{upstreams: upstreams, client: &http.Client{}, timeout: timeout}
}

// DirectoryLoaded records that the tenant directory is being kept current.
func (c *Checker) DirectoryLoaded() { c.directory.Store(true) }

// Ready returns nil when the gateway can serve, otherwise an error naming
// everything that is not ready.
func (c *Checker) Ready(ctx context.Context) error {
	names := make([]string, 0, len(c.upstreams))
	for n := range c.upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { errs[i] = c.probe(ctx, n, c.upstreams[n]) })
	}
	wg.Wait()
	var problems []string
	if !c.directory.Load() {
		problems = append(problems, "tenant directory not loaded")
	}
	for _, err := range errs {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (c *Checker) probe(ctx context.Context, name string, base *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/readyz").String(), nil)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", name, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream %s: /readyz answered %d", name, resp.StatusCode)
	}
	return nil
}

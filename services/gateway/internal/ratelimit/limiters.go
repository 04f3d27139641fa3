// Package ratelimit keeps one token bucket per tenant and refuses requests
// over it with 429 and Retry-After.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// Limiters holds a token bucket per tenant. A tenant's rate is its
// requests-per-second quota, or the default when the quota is zero; its burst
// keeps the configured burst-to-rate ratio.
type Limiters struct {
	defaultRPS float64
	burstRatio float64

	mu       sync.Mutex
	byTenant map[uuid.UUID]*bucket
}

type bucket struct {
	rps     float64
	limiter *rate.Limiter
}

// NewLimiters returns the limiters for a default rate and burst (both > 0).
func NewLimiters(defaultRPS float64, burst int) *Limiters {
	return &Limiters{defaultRPS: defaultRPS, burstRatio: float64(burst) / defaultRPS, byTenant: map[uuid.UUID]*bucket{}}
}

// Rate is the rate a quota stands for: the quota itself, or the default for 0.
func (l *Limiters) Rate(quota int64) float64 {
	if quota > 0 {
		return float64(quota)
	}
	return l.defaultRPS
}

// Burst is the bucket size for a rate, at least one request.
func (l *Limiters) Burst(rps float64) int {
	return max(1, int(math.Ceil(rps*l.burstRatio)))
}

// Reserve takes one token from the tenant's bucket. It returns zero when the
// request may proceed, otherwise how long until a token is free (the token is
// not taken then). A changed quota replaces the tenant's bucket.
func (l *Limiters) Reserve(tenant uuid.UUID, quota int64, now time.Time) time.Duration {
	lim := l.limiter(tenant, l.Rate(quota))
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func (l *Limiters) limiter(tenant uuid.UUID, rps float64) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.byTenant[tenant]
	if !ok || b.rps != rps {
		b = &bucket{rps: rps, limiter: rate.NewLimiter(rate.Limit(rps), l.Burst(rps))}
		l.byTenant[tenant] = b
	}
	return b.limiter
}

package ratelimit_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/services/gateway/internal/ratelimit"
)

func TestBurstKeepsTheConfiguredRatio(t *testing.T) {
	l := ratelimit.NewLimiters(50, 100)
	tests := []struct {
		quota     int64
		wantRate  float64
		wantBurst int
	}{
		{quota: 0, wantRate: 50, wantBurst: 100},
		{quota: 1, wantRate: 1, wantBurst: 2},
		{quota: 1000, wantRate: 1000, wantBurst: 2000},
	}
	for _, tt := range tests {
		rate := l.Rate(tt.quota)
		if rate != tt.wantRate || l.Burst(rate) != tt.wantBurst {
			t.Errorf("quota %d: want rate %g burst %d, have %g %d", tt.quota, tt.wantRate, tt.wantBurst, rate, l.Burst(rate))
		}
	}
	if b := ratelimit.NewLimiters(0.1, 1).Burst(0.1); b != 1 {
		t.Errorf("a burst is at least one request, have %d", b)
	}
}

func TestReserve(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.NewLimiters(1, 2)
	a, b := uuid.New(), uuid.New()

	for i := range 2 {
		if wait := l.Reserve(a, 0, now); wait != 0 {
			t.Fatalf("request %d within the burst waits %v", i+1, wait)
		}
	}
	wait := l.Reserve(a, 0, now)
	if wait <= 0 || wait > time.Second {
		t.Fatalf("over the burst at 1 rps: want a wait in (0, 1s], have %v", wait)
	}
	// A refused request takes no token: a second later exactly one is free.
	if wait := l.Reserve(a, 0, now.Add(time.Second)); wait != 0 {
		t.Fatalf("after a second: want a free token, have wait %v", wait)
	}
	if wait := l.Reserve(a, 0, now.Add(time.Second)); wait == 0 {
		t.Fatal("after a second: want only one free token")
	}
	if wait := l.Reserve(b, 0, now); wait != 0 {
		t.Fatalf("another tenant waits %v", wait)
	}
	// A new quota replaces the bucket, full.
	for i := range 20 {
		if wait := l.Reserve(a, 10, now.Add(time.Second)); wait != 0 {
			t.Fatalf("request %d under a quota of 10 rps waits %v", i+1, wait)
		}
	}
}

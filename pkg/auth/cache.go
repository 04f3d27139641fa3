package auth

import (
	"context"
	"sync"
	"time"
)

// Verified tokens are remembered, so a client sending the same token with
// every request pays for one signature check, not one per request (the
// gateway and each service verify it). An entry lives until the token
// expires, and at most cacheTTL so that a key withdrawn from the JWKS stops
// being honoured soon after.
const (
	cacheTTL  = 5 * time.Minute
	cacheSize = 10000
)

type cachedPrincipal struct {
	p     Principal
	until time.Time
}

type verifiedCache struct {
	mu      sync.Mutex
	entries map[string]cachedPrincipal
}

func (c *verifiedCache) get(token string, now time.Time) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[token]
	if !ok || !now.Before(e.until) {
		return Principal{}, false
	}
	return e.p, true
}

func (c *verifiedCache) put(token string, p Principal, exp, now time.Time) {
	until := now.Add(cacheTTL)
	if exp.Before(until) {
		until = exp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= cacheSize {
		// Starting over is cheaper than tracking recency, and a full cache
		// only means many distinct live tokens, each verified once more.
		c.entries = make(map[string]cachedPrincipal, cacheSize)
	}
	c.entries[token] = cachedPrincipal{p: p, until: until}
}

// cachingVerifier verifies through next and remembers what it verified.
type cachingVerifier struct {
	next  *verifier
	cache verifiedCache
	now   func() time.Time
}

// Remembered reports whether v vouches for token without checking any
// signature: a JWT it verified and still remembers, or a tenant API key its
// key verifier accepts (a hash compare). A limiter in front of a verifier
// lets such tokens through when it refuses unknown ones. False for a
// verifier that remembers nothing.
func Remembered(v Verifier, token string) bool {
	r, ok := v.(interface{ remembered(string) bool })
	return ok && r.remembered(token)
}

func (c *cachingVerifier) remembered(token string) bool {
	_, ok := c.cache.get(token, c.now())
	return ok
}

func (c *cachingVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	now := c.now()
	if p, ok := c.cache.get(token, now); ok {
		return p, nil
	}
	p, exp, err := c.next.verify(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	c.cache.put(token, p, exp, now)
	return p, nil
}

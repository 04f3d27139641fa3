package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxClients bounds the addresses Clients tracks (about 100 bytes each).
const maxClients = 1 << 16

// Clients holds a token bucket per client address for requests that fail
// authentication. It is consulted before any token is verified, so a flood
// of bad tokens costs a map lookup per request, not a signature check.
type Clients struct {
	rps   rate.Limit
	burst int
	// idle is how long an untouched bucket takes to refill: one idle longer
	// is as good as a new one, so it can be forgotten.
	idle    time.Duration
	trusted []netip.Prefix

	mu     sync.Mutex
	byAddr map[netip.Addr]*client
}

type client struct {
	limiter *rate.Limiter
	seen    time.Time
}

// NewClients allows each address rps failed requests per second with bursts
// of burst (both > 0). X-Forwarded-For is believed only from trusted.
func NewClients(rps float64, burst int, trusted []netip.Prefix) *Clients {
	return &Clients{rps: rate.Limit(rps), burst: burst, trusted: trusted, byAddr: map[netip.Addr]*client{},
		idle: time.Duration(float64(burst) / rps * float64(time.Second))}
}

// Rate is the failed requests per second an address may make.
func (c *Clients) Rate() float64 { return float64(c.rps) }

// Take takes a token from addr's bucket for a request that may fail
// authentication, before anything is verified: parallel requests each take
// their own, so no more than the bucket holds get through. Over the limit
// it takes nothing and says how long to wait for a token (wait > 0).
func (c *Clients) Take(addr netip.Addr, now time.Time) (t Taken, wait time.Duration) {
	c.mu.Lock()
	cl, ok := c.byAddr[addr]
	if !ok {
		if len(c.byAddr) >= maxClients {
			c.evict(now)
		}
		cl = &client{limiter: rate.NewLimiter(c.rps, c.burst)}
		c.byAddr[addr] = cl
	}
	cl.seen = now
	c.mu.Unlock()
	r := cl.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return Taken{}, d
	}
	return Taken{r: r, at: now}, 0
}

// Taken is a token Take took; the zero Taken holds none.
type Taken struct {
	r  *rate.Reservation
	at time.Time
}

// Return gives the token back: its request did not fail authentication.
// It is cancelled as of when it was taken (x/time/rate restores nothing
// later than that); a refusal at the same address in between makes it
// restore less, and that address is at its limit anyway.
func (t Taken) Return() {
	if t.r != nil {
		t.r.CancelAt(t.at)
	}
}

// evict forgets the buckets that have refilled; when none has, an arbitrary
// eighth (map order is random), so memory stays bounded whatever the load.
func (c *Clients) evict(now time.Time) {
	for addr, cl := range c.byAddr {
		if now.Sub(cl.seen) > c.idle {
			delete(c.byAddr, addr)
		}
	}
	for addr := range c.byAddr {
		if len(c.byAddr) < maxClients-maxClients/8 {
			return
		}
		delete(c.byAddr, addr)
	}
}

// Len is the number of addresses tracked.
func (c *Clients) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byAddr)
}

// Addr is the client address of r: the connection's peer, or, when the peer
// is a trusted proxy, the nearest address in X-Forwarded-For that is not
// one. IPv6 clients are keyed by their /64, which one host usually holds
// whole.
func (c *Clients) Addr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not a TCP peer (a test's or a unix socket's): one bucket for all.
		return key(netip.IPv4Unspecified())
	}
	addr := peer.Addr().Unmap()
	if !c.isTrusted(addr) {
		return key(addr)
	}
	hops := forwarded(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// The trusted hop that passed this on is the best we know.
			break
		}
		addr = hop.Unmap()
		if !c.isTrusted(addr) {
			break
		}
	}
	return key(addr)
}

func (c *Clients) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded splits X-Forwarded-For values (one header or several) into hops.
func forwarded(values []string) []string {
	var hops []string
	for _, v := range values {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, hop)
		}
	}
	return hops
}

func key(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// ParsePrefixes reads a comma-separated list of CIDRs or single addresses
// (a /32 or /128).
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, &net.ParseError{Type: "CIDR or IP address", Text: item}
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

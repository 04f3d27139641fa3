package events

import "time"

// Leading reports whether r leads (holds the outbox lock).
func Leading(r *Relay) bool { return r.leading.Load() }

// Deaf stops r hearing this process's commits, as if it ran in another
// process: only a NOTIFY or its IdleInterval wakes it.
func Deaf(r *Relay) *Relay {
	r.deaf = true
	return r
}

// IdleInterval is r's safety-net interval.
func IdleInterval(r *Relay) time.Duration { return r.opts.IdleInterval }

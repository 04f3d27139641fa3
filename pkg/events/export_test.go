package events

// SetAfterEffect installs a hook that runs after an event's transaction
// committed and before its offset is committed, so tests can crash a
// consumer in exactly that window.
func SetAfterEffect(c *Consumer, f func()) { c.afterEffect = f }

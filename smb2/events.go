package smb2

import (
	"sync"
	"time"
)

// eventQueue carries events from other goroutines to the connection:
// sessions deleted from the table, the end of a deleted session's grace,
// pipes that may have become idle (a signal alone).
type eventQueue struct {
	mu     sync.Mutex
	kills  []killEvent
	sweep  bool          // the pipe sweep timer fired
	signal chan struct{} // one pending wake-up of the serving goroutine
}

// killEvent asks the connection to log a session off: once its pipes are
// quiet, or at once when force is set (its grace has run out).
type killEvent struct {
	id    uint64
	force bool
}

// postKill queues a kill event. As the OnClose hook of a session (an
// administrator deleted it) it may run on any goroutine, the connection's
// own pipe handlers included.
func (c *conn) postKill(ev killEvent) {
	c.events.mu.Lock()
	c.events.kills = append(c.events.kills, ev)
	c.events.mu.Unlock()
	c.signal()
}

// signal wakes the serving goroutine to process events.
func (c *conn) signal() {
	select {
	case c.events.signal <- struct{}{}:
	default:
	}
}

// processEvents marks deleted sessions and logs off those whose pipes have
// delivered everything in flight.
func (c *conn) processEvents() {
	c.events.mu.Lock()
	kills := c.events.kills
	c.events.kills = nil
	sweep := c.events.sweep
	c.events.sweep = false
	c.events.mu.Unlock()
	if sweep {
		c.closeIdlePipes(time.Now())
	}
	for _, ev := range kills {
		s := c.sessions[ev.id]
		if s == nil {
			continue
		}
		if !s.doomed {
			s.doomed = true
			sid := s.id
			s.grace = time.AfterFunc(c.srv.tmo.LogoffGrace, func() { c.postKill(killEvent{id: sid, force: true}) })
		}
		if ev.force {
			c.logoff(s, "deleted")
			c.deletedAny = true
		}
	}
	for _, s := range c.sessions {
		if !s.doomed {
			continue
		}
		if c.quiet(s) {
			c.logoff(s, "deleted")
			c.deletedAny = true
		} else {
			c.watchPipes(s)
		}
	}
	if c.deletedAny && len(c.sessions) == 0 {
		c.closeAfter = true
	}
}

// quiet reports whether none of s's pipes has a call in flight or an
// answer not yet collected, asynchronous reads included.
func (c *conn) quiet(s *smbSession) bool {
	for _, op := range c.async.ops {
		if op.sess == s {
			return false
		}
	}
	for _, o := range c.opens {
		if o.sess == s && !pipeIdle(o.pipe) {
			return false
		}
	}
	return true
}

// watchPipes makes sure a change of each of s's busy pipes wakes the
// connection, so that a deleted session is logged off as soon as its
// pipes are quiet: a goroutine waits on each busy channel once.
func (c *conn) watchPipes(s *smbSession) {
	for _, o := range c.opens {
		if o.sess != s {
			continue
		}
		_, _, busy := o.pipe.Pending()
		if busy == nil || busy == o.watched {
			continue
		}
		o.watched = busy
		c.goPipe(func() {
			select {
			case <-busy:
				c.signal()
			case <-c.ctx.Done():
			}
		})
	}
}

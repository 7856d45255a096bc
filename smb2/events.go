package smb2

import (
	"time"
)

// postKill is the OnClose hook of a session: an administrator deleted it.
// It may run on any goroutine, the connection's own pipe handlers included.
func (c *conn) postKill(id uint64) {
	c.evMu.Lock()
	c.evKills = append(c.evKills, id)
	c.evMu.Unlock()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.evSignal <- struct{}{}:
	default:
	}
}

// processEvents marks deleted sessions and logs off those whose pipes have
// delivered everything in flight.
func (c *conn) processEvents() {
	c.evMu.Lock()
	kills := c.evKills
	c.evKills = nil
	c.evMu.Unlock()
	for _, id := range kills {
		force := id&(1<<63) != 0
		s := c.sessions[id&^(1<<63)]
		if s == nil {
			continue
		}
		if !s.doomed {
			s.doomed = true
			sid := s.id
			s.grace = time.AfterFunc(durOr(c.srv.LogoffGrace, DefaultLogoffGrace), func() { c.postKill(sid | 1<<63) })
		}
		if force {
			c.logoff(s, "deleted")
			c.deletedAny = true
		}
	}
	for _, s := range c.sessions {
		if s.doomed && c.quiet(s) {
			c.logoff(s, "deleted")
			c.deletedAny = true
		}
	}
	if c.deletedAny && len(c.sessions) == 0 {
		c.closeAfter = true
	}
}

// quiet reports whether none of s's pipes has a call in flight or an
// answer not yet collected, asynchronous reads included.
func (c *conn) quiet(s *smbSession) bool {
	for _, op := range c.asyncOps {
		if op.sess == s {
			return false
		}
	}
	for _, o := range c.opens {
		if o.sess == s && !o.pipe.idle() {
			return false
		}
	}
	return true
}

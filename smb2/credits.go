package smb2

import (
	"fmt"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// charge checks a request's message IDs against the window the credits
// granted so far allow and consumes them; it returns the credits granted
// back. A request outside the window ends the connection, as Windows
// does.
func (c *conn) charge(h *wire.Header) (uint16, error) {
	n := uint64(h.CreditCharge)
	if n == 0 || c.dialect == Dialect202 {
		n = 1
	}
	mid := h.MessageID
	if mid < c.seqLow || mid+n > c.seqHigh || mid+n < mid {
		return 0, fmt.Errorf("%w: message id %d (charge %d) outside [%d,%d)", errClose, mid, n, c.seqLow, c.seqHigh)
	}
	for i := uint64(0); i < n; i++ {
		if _, dup := c.used[mid+i]; dup {
			return 0, fmt.Errorf("%w: message id %d reused", errClose, mid+i)
		}
	}
	for i := uint64(0); i < n; i++ {
		c.used[mid+i] = struct{}{}
	}
	for {
		if _, ok := c.used[c.seqLow]; !ok {
			break
		}
		delete(c.used, c.seqLow)
		c.seqLow++
	}
	avail := c.seqHigh - c.seqLow - uint64(len(c.used))
	want := max(uint64(h.Credit), 1)
	limit := c.srv.maxCredits()
	grant := uint64(0)
	if avail < limit {
		grant = min(want, limit-avail)
	}
	if avail == 0 && grant == 0 {
		grant = 1
	}
	c.seqHigh += grant
	return uint16(grant), nil
}

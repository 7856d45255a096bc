package smb2

import (
	"fmt"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// creditWindow is the range of message IDs a client may use: [low, high)
// minus those used already.
type creditWindow struct {
	low, high uint64
	used      map[uint64]struct{} // used IDs at or above low
}

// charge checks a request's message IDs against the window the credits
// granted so far allow and consumes them; it returns the credits granted
// back, keeping at most limit outstanding. A request outside the window
// ends the connection, as Windows does.
func (w *creditWindow) charge(h *wire.Header, dialect uint16, limit uint64) (uint16, error) {
	n := uint64(h.CreditCharge)
	if n == 0 || dialect == Dialect202 {
		n = 1
	}
	mid := h.MessageID
	if mid < w.low || mid+n > w.high || mid+n < mid {
		return 0, fmt.Errorf("%w: message id %d (charge %d) outside [%d,%d)", errClose, mid, n, w.low, w.high)
	}
	for i := uint64(0); i < n; i++ {
		if _, dup := w.used[mid+i]; dup {
			return 0, fmt.Errorf("%w: message id %d reused", errClose, mid+i)
		}
	}
	for i := uint64(0); i < n; i++ {
		w.used[mid+i] = struct{}{}
	}
	for {
		if _, ok := w.used[w.low]; !ok {
			break
		}
		delete(w.used, w.low)
		w.low++
	}
	avail := w.high - w.low - uint64(len(w.used))
	want := max(uint64(h.Credit), 1)
	grant := uint64(0)
	if avail < limit {
		grant = min(want, limit-avail)
	}
	if avail == 0 && grant == 0 {
		grant = 1
	}
	w.high += grant
	return uint16(grant), nil
}

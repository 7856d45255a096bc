package srvs

import (
	"math/rand/v2"
	"testing"

	"github.com/netsession/netsession/session"
)

// TestSessionSizesAgree: the session table pages by its own wire-size
// function; it must agree with the codec's EntrySize, or a page could
// overrun PreferedMaximumLength. The entry types are field-for-field
// identical, so a table entry converts to a SessionInfo for free.
func TestSessionSizesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, level := range []uint32{0, 1, 2, 10, 502, 3} {
		if got, want := session.Level(level).FixedSize(), FixedSize(level); got != want {
			t.Errorf("level %d: session FixedSize %d, srvs %d", level, got, want)
		}
		odd := SessionInfo{ClientName: "\xff\xfe", UserName: "a\xc3", ClientType: "\xed\xa0\x80", Transport: "\U0010FFFF"}
		for i := range 200 {
			e := randEntry(r)
			if i == 0 {
				e = odd // invalid UTF-8 and the top code point
			}
			info := session.Info(e)
			if got, want := info.WireSize(session.Level(level)), EntrySize(level, e.ClientName, e.UserName, e.ClientType, e.Transport); got != want {
				t.Fatalf("level %d, %+v: session WireSize %d, srvs EntrySize %d", level, e, got, want)
			}
			conv := SessionInfo(info)
			if got := conv.Size(level); got != e.Size(level) {
				t.Fatalf("conversion changed the size")
			}
		}
	}
}

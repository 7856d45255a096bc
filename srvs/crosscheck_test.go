package srvs

import (
	"math/rand/v2"
	"testing"

	"github.com/netsession/netsession/session"
)

// TestSessionSizesAgree: the session table pages by its own wire-size
// function; it must agree with the codec's EntrySize, or a page could
// overrun PreferedMaximumLength. (SessionInfo is session.Info, so the
// table's entries go into a response as they are.)
func TestSessionSizesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, level := range []uint32{0, 1, 2, 10, 502, 3} {
		if got, want := session.Level(level).FixedSize(), FixedSize(level); got != want {
			t.Errorf("level %d: session FixedSize %d, srvs %d", level, got, want)
		}
		if got, want := session.Level(level).Valid(), KnownLevel(level); got != want {
			t.Errorf("level %d: session Valid %v, srvs KnownLevel %v", level, got, want)
		}
		odd := SessionInfo{ClientName: "\xff\xfe", UserName: "a\xc3", ClientType: "\xed\xa0\x80", Transport: "\U0010FFFF"}
		for i := range 200 {
			e := randEntry(r)
			if i == 0 {
				e = odd // invalid UTF-8 and the top code point
			}
			if got, want := e.WireSize(session.Level(level)), EntrySize(level, e.ClientName, e.UserName, e.ClientType, e.Transport); got != want {
				t.Fatalf("level %d, %+v: session WireSize %d, srvs EntrySize %d", level, e, got, want)
			}
		}
	}
}

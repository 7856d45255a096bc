package srvs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netsession/netsession/session"
)

// TestTablePagesInWireBytes: a table asked with EntrySize as its Size fills
// each page's PreferedMaximumLength with the entries' encoded bytes: a
// page with more than one entry never exceeds the budget, a page followed
// by ERROR_MORE_DATA could not have taken the next entry, and entries are
// never split or repeated.
func TestTablePagesInWireBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	table := session.New(session.Options{Policy: session.PolicyOpen()})
	const n = 120
	for i := range n {
		spec := session.Spec{Client: fmt.Sprintf("10.1.%d.%d", i/200, i%200), User: randString(r), ClientType: randString(r), Transport: randString(r)}
		if i == 7 {
			spec.User, spec.ClientType, spec.Transport = "\xff\xfe", "\xed\xa0\x80", "\U0010FFFF" // invalid UTF-8 and the top code point
		}
		if _, err := table.Open(spec); err != nil {
			t.Fatal(err)
		}
	}
	for _, level := range session.Levels() {
		for _, budget := range []uint32{0, 1, 100, 333, 1000, 4096} {
			q := session.EnumQuery{Level: level, PrefMaxLen: budget, Size: EntrySize}
			seen := 0
			for page := 0; ; page++ {
				res, err := table.Enum(context.Background(), session.Caller{}, q)
				if err != nil {
					t.Fatal(err)
				}
				resp := SessionEnumResponse{Level: level, Entries: res.Entries, TotalEntries: res.TotalEntries}
				enc, err := resp.AppendNDR(nil)
				if err != nil {
					t.Fatal(err)
				}
				empty := SessionEnumResponse{Level: level}
				used := len(enc) - empty.Size() - 4 // the array's max_count
				if len(res.Entries) == 0 {
					t.Fatalf("level %d budget %d page %d: no entries while %d remain", level, budget, page, n-seen)
				}
				if len(res.Entries) > 1 && used > int(budget) {
					t.Errorf("level %d budget %d page %d: %d encoded entry bytes", level, budget, page, used)
				}
				seen += len(res.Entries)
				if !res.More {
					break
				}
				next, err := table.Enum(context.Background(), session.Caller{}, session.EnumQuery{Level: level, PrefMaxLen: 0, Resume: res.Resume})
				if err != nil {
					t.Fatal(err)
				}
				if used+EntrySize(level, &next.Entries[0]) <= int(budget) {
					t.Errorf("level %d budget %d page %d: stopped at %d bytes although the next entry fit", level, budget, page, used)
				}
				q.Resume = res.Resume
			}
			if seen != n {
				t.Errorf("level %d budget %d: %d entries, want %d", level, budget, seen, n)
			}
		}
	}
}

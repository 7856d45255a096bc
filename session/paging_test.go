package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nameCost is a page budget's unit for these tests: the bytes of the two
// names. The table applies whatever cost the caller supplies; srvs gives
// it the NDR wire size (see the external paging test).
func nameCost(_ Level, i *Info) int { return len(i.ClientName) + len(i.UserName) }

// openN opens n sessions whose level-1 entries all cost the same.
func openN(t testing.TB, tb *Table, n int) []*Session {
	out := make([]*Session, n)
	for i := range out {
		out[i] = mustOpen(t, tb, Spec{Client: fmt.Sprintf("10.0.%d.%d", i/100+100, i%100+100), User: "u"})
	}
	return out
}

func TestPagingBudget(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	openN(t, tb, 10)
	one := nameCost(Level1, &Info{ClientName: `\\10.0.100.100`, UserName: "u"})
	tests := []struct {
		budget    uint32
		perPage   int
		firstMore bool
	}{
		{MaxPreferredLength, 10, false},
		{uint32(10 * one), 10, false},
		{uint32(10*one - 1), 9, true},
		{uint32(3 * one), 3, true},
		{uint32(3*one + one - 1), 3, true},
		{uint32(one), 1, true},
		{1, 1, true}, // too small for one entry: one entry anyway
		{0, 1, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.budget), func(t *testing.T) {
			var resume uint32
			seen := 0
			for page := 0; ; page++ {
				res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level1, PrefMaxLen: tc.budget, Resume: resume, Size: nameCost})
				if err != nil {
					t.Fatal(err)
				}
				if want := uint32(10 - seen); res.TotalEntries != want {
					t.Errorf("page %d: total %d, want %d (matches from the resume position)", page, res.TotalEntries, want)
				}
				if len(res.Entries) == 0 {
					t.Fatalf("page %d returned nothing while entries remain", page)
				}
				if page == 0 && (len(res.Entries) != tc.perPage || res.More != tc.firstMore) {
					t.Errorf("first page: %d entries more=%v, want %d more=%v", len(res.Entries), res.More, tc.perPage, tc.firstMore)
				}
				size := 0
				for i := range res.Entries {
					size += nameCost(Level1, &res.Entries[i])
				}
				if len(res.Entries) > 1 && uint32(size) > tc.budget {
					t.Errorf("page %d: %d bytes over a budget of %d", page, size, tc.budget)
				}
				for i, e := range res.Entries {
					want := fmt.Sprintf(`\\10.0.100.%d`, 100+seen+i)
					if e.ClientName != want {
						t.Fatalf("page %d entry %d = %q, want %q (creation order)", page, i, e.ClientName, want)
					}
				}
				seen += len(res.Entries)
				if !res.More {
					if res.Resume != 0 || res.Status() != StatusSuccess {
						t.Errorf("last page: resume %d status %v, want 0, success", res.Resume, res.Status())
					}
					break
				}
				if res.Status() != StatusMoreData || res.Resume != uint32(seen) {
					t.Errorf("page %d: status %v resume %d; want ERROR_MORE_DATA, %d (sequence of the last entry)", page, res.Status(), res.Resume, seen)
				}
				resume = res.Resume
			}
			if seen != 10 {
				t.Errorf("saw %d entries, want 10", seen)
			}
		})
	}
}

func TestResumePastEnd(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	openN(t, tb, 3)
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: 0, PrefMaxLen: MaxPreferredLength, Resume: 3})
	if err != nil || len(res.Entries) != 0 || res.TotalEntries != 0 || res.More || res.Resume != 0 {
		t.Fatalf("resume at the last sequence: %+v %v", res, err)
	}
	// A qualifier that matched earlier pages is not "not found" at the end.
	res, err = tb.Enum(context.Background(), admin, EnumQuery{Level: 0, User: "u", PrefMaxLen: MaxPreferredLength, Resume: 999})
	if err != nil || len(res.Entries) != 0 {
		t.Fatalf("qualified resume past the end: %+v %v", res, err)
	}
}

func TestPagingWithFiltersAndHoles(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	ss := openN(t, tb, 200)
	for i, s := range ss {
		if i%3 == 0 {
			s.Close()
		}
	}
	// Sessions 2,3,5,6,... remain: 133 of them.
	var resume uint32
	got := 0
	for {
		res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level0, PrefMaxLen: 100, Resume: resume, Size: nameCost})
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalEntries != uint32(133-got) {
			t.Fatalf("total %d after %d, want %d", res.TotalEntries, got, 133-got)
		}
		got += len(res.Entries)
		if !res.More {
			break
		}
		resume = res.Resume
	}
	if got != 133 {
		t.Fatalf("got %d entries, want 133", got)
	}
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level0, Client: `\\10.0.101.199`, PrefMaxLen: MaxPreferredLength})
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("filter after holes: %+v, %v", res, err)
	}
}

// A session that exists for the whole enumeration is returned exactly once,
// even while others open and close between (and during) pages.
func TestPagingExactlyOnceUnderChurn(t *testing.T) {
	tb := New(Options{})
	stable := map[string]bool{}
	for i := range 300 {
		c := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		stable[`\\`+c] = true
		if _, err := tb.Open(Spec{Client: c, User: "stable"}); err != nil {
			t.Fatal(err)
		}
	}
	// Four goroutines open and close sessions while pages are read. Each
	// does a bounded number of operations (an unbounded stream of new
	// sessions would keep the enumeration chasing the tail forever).
	var wg sync.WaitGroup
	var churned atomic.Int64
	var running atomic.Int32
	for w := range 4 {
		wg.Add(1)
		running.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []*Session
			for range 3000 {
				if len(mine) > 20 || (len(mine) > 0 && rng.IntN(2) == 0) {
					k := rng.IntN(len(mine))
					mine[k].Close()
					mine = append(mine[:k], mine[k+1:]...)
				} else {
					s, err := tb.Open(Spec{Client: fmt.Sprintf("10.2.%d.%d", w, rng.IntN(250)), User: "churn"})
					if err != nil {
						t.Error(err)
						return
					}
					s.Touch()
					mine = append(mine, s)
				}
				churned.Add(1)
				if rng.IntN(8) == 0 {
					time.Sleep(time.Microsecond)
				}
			}
			for _, s := range mine {
				s.Close()
			}
		}()
	}
	rounds := 0
	for ; rounds < 3 || running.Load() > 0; rounds++ {
		count := map[string]int{}
		var resume uint32
		for pages := 0; ; pages++ {
			res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level10, PrefMaxLen: 1000, Resume: resume, Size: nameCost})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Entries {
				if e.UserName == "stable" {
					count[e.ClientName]++
				}
			}
			if !res.More {
				break
			}
			if pages > 100000 {
				t.Fatal("enumeration does not end")
			}
			resume = res.Resume
		}
		for c := range stable {
			if count[c] != 1 {
				t.Fatalf("round %d: stable session %s returned %d times", rounds, c, count[c])
			}
		}
	}
	wg.Wait()
	if churned.Load() == 0 {
		t.Fatal("no churn happened")
	}
	t.Logf("%d enumeration rounds during %d open/close operations", rounds, churned.Load())
	if tb.Len() != 300 {
		t.Fatalf("len %d after churn, want 300", tb.Len())
	}
}

func TestRenumberOnSequenceExhaustion(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	a := mustOpen(t, tb, Spec{Client: "10.0.0.1", User: "a"})
	b := mustOpen(t, tb, Spec{Client: "10.0.0.2", User: "b"})
	a.Close()
	tb.mu.Lock()
	tb.seq = ^uint32(0) - 1
	tb.mu.Unlock()
	c := mustOpen(t, tb, Spec{Client: "10.0.0.3", User: "c"}) // gets 0xFFFFFFFF
	if c.ID() != ^uint32(0) {
		t.Fatalf("id %#x", c.ID())
	}
	d := mustOpen(t, tb, Spec{Client: "10.0.0.4", User: "d"}) // forces renumbering
	if b.ID() != 1 || c.ID() != 2 || d.ID() != 3 {
		t.Fatalf("after renumbering: %d %d %d, want 1 2 3", b.ID(), c.ID(), d.ID())
	}
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: 10, PrefMaxLen: 0, Resume: 1})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].UserName != "c" || res.Resume != 2 {
		t.Fatalf("paging after renumbering: %+v %v", res, err)
	}
	c.Close()
	if tb.Len() != 2 {
		t.Fatalf("len %d", tb.Len())
	}
}

func TestConcurrentFeedAndQuery(t *testing.T) {
	tb := New(Options{Policy: PolicyOpen()})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s, err := tb.Open(Spec{Client: fmt.Sprintf("10.3.%d.%d", w, i%250), User: fmt.Sprint("user", w)})
				if err != nil {
					t.Error(err)
					return
				}
				s.AddOpen()
				s.Touch()
				_ = s.Info()
				if i%7 == 0 {
					_, _ = tb.Delete(context.Background(), anon, "", fmt.Sprint("user", w))
				}
				if i%5 == 0 {
					_, _ = tb.Enum(context.Background(), anon, EnumQuery{Level: 502, PrefMaxLen: 1000, Size: nameCost})
				}
				s.RemoveOpen()
				s.Close()
			}
		}()
	}
	wg.Wait()
	if tb.Len() != 0 {
		t.Fatalf("len %d after everyone closed", tb.Len())
	}
}

// Without a Size the budget is a number of entries per page.
func TestPagingCountsEntriesWithoutSize(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	openN(t, tb, 10)
	var resume uint32
	var pages []int
	for {
		res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level502, PrefMaxLen: 4, Resume: resume})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(res.Entries))
		if !res.More {
			break
		}
		resume = res.Resume
	}
	if fmt.Sprint(pages) != "[4 4 2]" {
		t.Fatalf("pages of %v entries, want [4 4 2]", pages)
	}
}

// An unbounded budget (MaxPreferredLength) never runs out, so the table
// does not price its entries: Size is not called at all, while a bounded
// budget prices every entry it returns.
func TestPagingUnboundedSkipsSize(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	openN(t, tb, 10)
	calls := 0
	counting := func(l Level, i *Info) int { calls++; return nameCost(l, i) }
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level1, PrefMaxLen: MaxPreferredLength, Size: counting})
	if err != nil || len(res.Entries) != 10 || res.More {
		t.Fatalf("unbounded: %d entries, more %v, %v", len(res.Entries), res.More, err)
	}
	if calls != 0 {
		t.Errorf("Size called %d times for an unbounded budget", calls)
	}
	if _, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level1, PrefMaxLen: 1 << 20, Size: counting}); err != nil {
		t.Fatal(err)
	}
	if calls != 10 {
		t.Errorf("Size called %d times for a bounded budget of 10 entries, want 10", calls)
	}
}

// EnumQuery.Entries with room is where the result is written; without
// enough room the result gets storage of its own.
func TestEnumReusesEntries(t *testing.T) {
	tb, _ := newTestTable(t, Options{})
	openN(t, tb, 10)
	buf := make([]Info, 3, 16)
	res, err := tb.Enum(context.Background(), admin, EnumQuery{Level: Level1, PrefMaxLen: MaxPreferredLength, Entries: buf})
	if err != nil || len(res.Entries) != 10 {
		t.Fatalf("%d entries, %v", len(res.Entries), err)
	}
	if &res.Entries[0] != &buf[:1][0] {
		t.Error("result not written into the storage given")
	}
	small := make([]Info, 0, 4)
	res, err = tb.Enum(context.Background(), admin, EnumQuery{Level: Level1, PrefMaxLen: MaxPreferredLength, Entries: small})
	if err != nil || len(res.Entries) != 10 || &res.Entries[0] == &small[:1][0] {
		t.Fatalf("%d entries, %v (into storage too small: %v)", len(res.Entries), err, len(res.Entries) > 0 && &res.Entries[0] == &small[:1][0])
	}
}

package cli

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Day is 24 hours: durations count days as 24 hours, whatever the clock
// does on the day of a daylight saving change.
const Day = 24 * time.Hour

// units are the duration units ParseDuration reads, longest suffix first
// where one is a prefix of another ("ms" before "m").
var units = []struct {
	name string
	d    time.Duration
}{
	{"ms", time.Millisecond},
	{"w", 7 * Day},
	{"d", Day},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
}

// ParseDuration reads a duration as every command takes it: one or more
// whole numbers each followed by a unit, w (weeks), d (days), h, m, s or
// ms, as in 90s, 2h, 7d, 1d12h or 1h30m; "0" alone is zero. Days are 24
// hours. Negative, fractional and overflowing values are refused.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%q is not a duration (%s; examples: 90s, 2h, 7d, 1d12h)", orig, why)
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad("empty")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return bad("want a number before each unit")
		}
		var n int64
		for _, c := range s[:i] {
			if n > (math.MaxInt64-9)/10 {
				return bad("too long")
			}
			n = n*10 + int64(c-'0')
		}
		s = s[i:]
		var unit time.Duration
		for _, u := range units {
			if strings.HasPrefix(s, u.name) {
				unit, s = u.d, s[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return bad("want a unit after each number: w, d, h, m, s or ms")
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return bad("too long")
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// FormatDuration writes d in the syntax ParseDuration reads, largest unit
// first: 30s, 5m, 1d12h, 250ms. Weeks are written as days. Sub-millisecond
// parts are dropped; a negative d is written as 0.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0"
	}
	return b.String()
}

// ParseTime reads an instant as every command takes it: "now", an RFC 3339
// time (2026-03-01T08:00:00Z, 2026-03-01T09:00:00+01:00), a date
// (2026-03-01, midnight UTC), or a duration as ParseDuration reads it,
// meaning that long before now (2h: two hours ago).
func ParseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case s == "":
		return time.Time{}, errors.New("empty time (want RFC 3339, a date, now, or a duration before now such as 2h or 7d)")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339 such as 2026-03-01T08:00:00Z, a date such as 2026-03-01, now, or a duration before now such as 2h or 7d)", s)
}

type timeValue struct {
	p   *time.Time
	now func() time.Time
}

func (v *timeValue) Set(s string) error {
	t, err := ParseTime(s, v.now())
	if err != nil {
		return err
	}
	*v.p = t
	return nil
}

func (v *timeValue) String() string {
	if v.p.IsZero() {
		return ""
	}
	return v.p.UTC().Format(time.RFC3339)
}

// Time defines a flag read by ParseTime, relative forms counted back from
// now() at the time the flag is parsed.
func (fs *FlagSet) Time(names string, now func() time.Time, usage string) *time.Time {
	p := new(time.Time)
	f := fs.Var(&timeValue{p, now}, names, usage)
	if f.Arg == "VALUE" {
		f.Arg = "TIME"
	}
	return p
}

package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// Target is one server to scan.
type Target struct {
	// Input is the target as given: the line or argument, or for an
	// address expanded from a range, that address.
	Input string
	// Range is the CIDR range the target was expanded from, "" if none.
	Range string
	// Host is a host name or an IP address literal (no brackets, zone
	// kept).
	Host string
	// Port is the port given with the target; 0 means the transport's
	// default.
	Port int
}

// Addr returns the target as client.Dial takes it: HOST, HOST:PORT or
// [V6]:PORT.
func (t Target) Addr() string {
	if t.Port == 0 {
		return t.Host
	}
	return joinHostPort(t.Host, t.Port)
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// DefaultMaxRange is the largest CIDR range ParseOptions accepts by
// default: a /16 of IPv4, or a /112 of IPv6. A larger range is most likely
// a typing error (a /8 is sixteen million hosts).
const DefaultMaxRange = 1 << 16

// ParseOptions tune target parsing. The zero value is ready to use.
type ParseOptions struct {
	// MaxRange is the largest number of addresses one CIDR range may
	// expand to (0: DefaultMaxRange). A larger one is an error that says
	// so.
	MaxRange int
	// DefaultPort is the port a target without one is compared with when
	// duplicates are removed ("h" and "h:445" are one target when it is
	// 445). 0 compares them as given.
	DefaultPort int
}

func (o ParseOptions) maxRange() int {
	if o.MaxRange > 0 {
		return o.MaxRange
	}
	return DefaultMaxRange
}

// TargetError is a target that cannot be parsed: where it was (Line is
// 0 for an argument) and why.
type TargetError struct {
	Input string
	Line  int
	Err   error
}

// Error says which target, where, and why.
func (e *TargetError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("scan: target %q (line %d): %v", e.Input, e.Line, e.Err)
	}
	return fmt.Sprintf("scan: target %q: %v", e.Input, e.Err)
}

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// ErrRangeTooLarge is in the chain of a TargetError for a CIDR range over
// ParseOptions.MaxRange.
var ErrRangeTooLarge = errors.New("range too large")

// ParseTarget parses one target that is not a range: a host name, an IPv4
// or IPv6 literal (bare, or in brackets), HOST:PORT or [V6]:PORT.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	t := Target{Input: s}
	fail := func(format string, args ...any) (Target, error) {
		return Target{}, &TargetError{Input: s, Err: fmt.Errorf(format, args...)}
	}
	if s == "" {
		return fail("empty")
	}
	if strings.ContainsAny(s, " \t\\/") {
		return fail("not a host, address or HOST:PORT")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		t.Host = a.String()
		return t, nil
	}
	host, port := s, ""
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return fail("missing ]")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return fail("unexpected %q after ]", rest)
			}
			port = rest[1:]
			if port == "" {
				return fail("empty port")
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return fail("not an IPv6 address in brackets")
		}
		host = a.String()
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return fail("empty port")
		}
	case strings.Contains(s, ":"):
		return fail("not an address (an IPv6 address with a port needs brackets: [V6]:PORT)")
	}
	if host == "" {
		return fail("no host")
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return fail("bad port %q", port)
		}
		t.Port = int(n)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		t.Host = a.String()
		return t, nil
	}
	if !validHostName(host) {
		return fail("not a valid host name")
	}
	t.Host = strings.ToLower(strings.TrimSuffix(host, "."))
	return t, nil
}

// validHostName accepts DNS and NetBIOS names: labels of letters, digits,
// '-' and '_', at most 253 characters.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// expand parses one entry: a CIDR range (expanded) or a single target.
// It calls add for each target, stopping when add returns false.
func expand(s string, opt ParseOptions, add func(Target) bool) error {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		t, err := ParseTarget(s)
		if err != nil {
			return err
		}
		add(t)
		return nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return &TargetError{Input: s, Err: fmt.Errorf("not a CIDR range: %w", err)}
	}
	p = p.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	max := opt.maxRange()
	if size.Cmp(big.NewInt(int64(max))) > 0 {
		return &TargetError{Input: s, Err: fmt.Errorf("%w: %s addresses, over the limit of %d (split it, or raise the limit)", ErrRangeTooLarge, size, max)}
	}
	n := int(size.Int64())
	a := p.Addr()
	// An IPv4 range of more than two addresses leaves out its network
	// and broadcast addresses, which are no hosts.
	skipEnds := a.Is4() && n > 2
	for i := 0; i < n; i, a = i+1, a.Next() {
		if skipEnds && (i == 0 || i == n-1) {
			continue
		}
		if !add(Target{Input: a.String(), Range: p.String(), Host: a.String()}) {
			return nil
		}
	}
	return nil
}

// dedup remembers the targets seen.
type dedup struct {
	defPort int
	seen    map[string]struct{}
}

func newDedup(opt ParseOptions) *dedup {
	return &dedup{defPort: opt.DefaultPort, seen: map[string]struct{}{}}
}

// first reports whether t is seen for the first time.
func (d *dedup) first(t Target) bool {
	port := t.Port
	if port == 0 {
		port = d.defPort
	}
	k := t.Host + "|" + strconv.Itoa(port)
	if _, ok := d.seen[k]; ok {
		return false
	}
	d.seen[k] = struct{}{}
	return true
}

// ParseTargets parses targets given as arguments: hosts, addresses,
// HOST:PORT, [V6]:PORT and CIDR ranges, duplicates removed (the first
// occurrence is kept, in order).
func ParseTargets(args []string, opt ParseOptions) ([]Target, error) {
	d := newDedup(opt)
	var out []Target
	for _, a := range args {
		if err := expand(a, opt, func(t Target) bool {
			if d.first(t) {
				out = append(out, t)
			}
			return true
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Dedup removes the duplicates of a list of targets put together from
// several sources (arguments and files), keeping the first occurrence of
// each, in order; DefaultPort is applied as ParseTargets applies it.
func Dedup(ts []Target, opt ParseOptions) []Target {
	d := newDedup(opt)
	out := ts[:0:0]
	for _, t := range ts {
		if d.first(t) {
			out = append(out, t)
		}
	}
	return out
}

// ReadTargets reads a target file whole: one target or range per line,
// blank lines and '#' comments (whole lines or the rest of a line)
// ignored, duplicates removed. Errors name the line.
func ReadTargets(r io.Reader, opt ParseOptions) ([]Target, error) {
	src := NewStreamSource(r, opt)
	var out []Target
	for {
		t, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
}

// Source yields the targets of a scan.
type Source interface {
	// Next returns the next target, io.EOF after the last one, or an
	// error that ends the scan (such as an unparsable line).
	Next(ctx context.Context) (Target, error)
	// Total is the number of targets, or -1 when it is not known in
	// advance (a stream).
	Total() int
}

// SliceSource is a Source over a list known in advance.
func SliceSource(ts []Target) Source { return &sliceSource{ts: ts} }

type sliceSource struct {
	ts []Target
	i  int
}

func (s *sliceSource) Next(ctx context.Context) (Target, error) {
	if s.i >= len(s.ts) {
		return Target{}, io.EOF
	}
	s.i++
	return s.ts[s.i-1], nil
}

func (s *sliceSource) Total() int { return len(s.ts) }

// MaxLine is the longest target line a stream may carry.
const MaxLine = 4096

// StreamSource reads targets from a stream as the scan goes (standard
// input): one per line, as ReadTargets, duplicates removed; its Total is
// -1. A range on one line is expanded when it is reached (at most
// ParseOptions.MaxRange targets held at once). A line longer than MaxLine
// is an error.
type StreamSource struct {
	opt  ParseOptions
	sc   *bufio.Scanner
	d    *dedup
	line int
	// pending holds the rest of a range being expanded.
	mu      sync.Mutex
	pending []Target
}

// NewStreamSource returns a StreamSource reading r.
func NewStreamSource(r io.Reader, opt ParseOptions) *StreamSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), MaxLine)
	return &StreamSource{opt: opt, sc: sc, d: newDedup(opt)}
}

// Total is -1: a stream's length is not known in advance.
func (s *StreamSource) Total() int { return -1 }

// Next returns the next new target. It is safe to call from one
// goroutine at a time.
func (s *StreamSource) Next(ctx context.Context) (Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return Target{}, err
		}
		if len(s.pending) > 0 {
			t := s.pending[0]
			s.pending = s.pending[1:]
			if s.d.first(t) {
				return t, nil
			}
			continue
		}
		if !s.sc.Scan() {
			if err := s.sc.Err(); err != nil {
				return Target{}, &TargetError{Line: s.line + 1, Err: err}
			}
			return Target{}, io.EOF
		}
		s.line++
		line := s.sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var got []Target
		if err := expand(line, s.opt, func(t Target) bool { got = append(got, t); return true }); err != nil {
			var te *TargetError
			if errors.As(err, &te) {
				te.Line = s.line
			}
			return Target{}, err
		}
		s.pending = got
	}
}

package scan

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/session"
)

// Summary counts the results of a scan.
type Summary struct {
	// Hosts is the number of results, Collected those collected.
	Hosts, Collected int
	// ByReason counts the failures by reason.
	ByReason map[client.Reason]int
	// Sessions is the number of sessions in all results.
	Sessions int
	// Unstarted is the number of targets an interrupted scan never
	// started (0 when the total is not known).
	Unstarted int
	// Elapsed is the scan's duration.
	Elapsed time.Duration
}

func (s *Summary) add(r *Result) {
	s.Hosts++
	s.Sessions += len(r.Sessions)
	if r.Collected {
		s.Collected++
		return
	}
	if s.ByReason == nil {
		s.ByReason = map[client.Reason]int{}
	}
	s.ByReason[r.Failure.Reason]++
}

// Rate is hosts per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Hosts) / s.Elapsed.Seconds()
}

// Complete reports whether every host was collected.
func (s Summary) Complete() bool { return s.Collected == s.Hosts }

// WriteTo writes the summary for people, a few lines:
//
//	scanned 1000 hosts in 2.1s (476.2 hosts/s): 990 collected, 10 failed
//	  access_denied 6, timeout 4
//	sessions: 12345
func (s Summary) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "scanned %d hosts in %v (%.1f hosts/s): %d collected, %d failed\n",
		s.Hosts, s.Elapsed.Round(time.Millisecond), s.Rate(), s.Collected, s.Hosts-s.Collected)
	if len(s.ByReason) > 0 {
		var parts []string
		for _, r := range client.Reasons() {
			if n := s.ByReason[r]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", r, n))
			}
		}
		fmt.Fprintf(&b, "  %s\n", strings.Join(parts, ", "))
	}
	if s.Unstarted > 0 {
		fmt.Fprintf(&b, "  %d targets not started (interrupted)\n", s.Unstarted)
	}
	fmt.Fprintf(&b, "sessions: %d\n", s.Sessions)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ProgressLine renders p as one line for a log or a terminal:
//
//	412/1000 hosts (41.2%), 396 collected, 16 failed, 5012 sessions, 203.1 hosts/s, ETA 2.9s
//
// For a stream (total unknown) the share and the ETA are left out.
func ProgressLine(p Progress) string {
	var b strings.Builder
	if p.Total >= 0 {
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		fmt.Fprintf(&b, "%d/%d hosts (%.1f%%)", p.Done, p.Total, pct)
	} else {
		fmt.Fprintf(&b, "%d hosts", p.Done)
	}
	fmt.Fprintf(&b, ", %d collected, %d failed, %d sessions, %.1f hosts/s", p.Collected, p.Failed, p.Sessions, p.Rate())
	if eta, ok := p.ETA(); ok {
		fmt.Fprintf(&b, ", ETA %v", eta.Round(100*time.Millisecond))
	}
	return b.String()
}

// A Writer writes results in one output format as they come. Write is
// called from one goroutine (Scanner.Run's emit); Flush at the end.
type Writer interface {
	Write(r *Result) error
	Flush() error
}

// JSONLines writes one JSON object per line: per host (Result.AppendJSON)
// or, with PerSession, per session.
type JSONLines struct {
	w io.Writer
	// PerSession writes one line per session instead of one per host:
	// the host's keys (without "sessions" and "session_count") followed
	// by the session's, its transport as "transport_name" ("transport"
	// is the scan's). A host without sessions, collected or not, still
	// gets one line, with its host keys only, so that no host goes
	// unreported.
	PerSession bool
	buf        []byte
}

// NewJSONLines returns a JSON Lines writer on w.
func NewJSONLines(w io.Writer, perSession bool) *JSONLines {
	return &JSONLines{w: w, PerSession: perSession}
}

// Write writes r's line or lines.
func (j *JSONLines) Write(r *Result) error {
	b := j.buf[:0]
	if !j.PerSession {
		b = append(r.AppendJSON(b), '\n')
	} else if len(r.Sessions) == 0 {
		b = append(append(r.appendHead(b), '}'), '\n')
	} else {
		for _, s := range r.Sessions {
			b = appendSession(append(r.appendHead(b), ','), s, true, true)
			b = append(b, '}', '\n')
		}
	}
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

// Flush does nothing: every Write reaches w at once.
func (j *JSONLines) Flush() error { return nil }

// CSVColumns are the CSV header: host columns, then session columns (the
// names of "netsess list --csv", except that the session's sesi_transport
// is transport_name, "transport" being the scan's: smb or tcp), then the
// failure's.
func CSVColumns() []string {
	return []string{
		"target", "address", "port", "transport", "observed_at", "duration_ms", "collected", "level", "levels_refused",
		"client", "client_host", "user", "opens", "time", "idle_time", "user_flags", "client_type", "transport_name",
		"reason", "status", "fault", "detail",
	}
}

// CSV writes one row per session, and one row for a host without
// sessions (its session columns empty), under the CSVColumns header.
// Absent values are empty cells. A field that starts with =, +, -, @, a
// tab or a carriage return is written with a leading ' (sessfmt.Defuse)
// so that a spreadsheet does not run text from a server as a formula,
// unless Raw is set.
type CSV struct {
	w      *csv.Writer
	header bool
	// Raw writes every field exactly as it is, formulas included.
	Raw bool
}

// NewCSV returns a CSV writer on w.
func NewCSV(w io.Writer) *CSV { return &CSV{w: csv.NewWriter(w)} }

// Write writes r's rows.
func (c *CSV) Write(r *Result) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVColumns()); err != nil {
			return err
		}
	}
	host := []string{
		r.Target, r.Address, itoa(r.Port), r.Transport, r.ObservedAt.UTC().Format(TimeFormat),
		strconv.FormatFloat(float64(r.Duration.Microseconds())/1000, 'f', -1, 64),
		strconv.FormatBool(r.Collected), "", refusedCell(r.LevelsRefused),
	}
	if r.HasLevel {
		host[7] = strconv.FormatUint(uint64(r.Level), 10)
	}
	f := &r.Failure
	tail := []string{string(f.Reason), "", "", f.Detail}
	if f.HasStatus {
		tail[1] = fmt.Sprintf("0x%x", f.Status)
	}
	if f.HasFault {
		tail[2] = fmt.Sprintf("0x%x", f.Fault)
	}
	row := make([]string, 0, len(CSVColumns()))
	if len(r.Sessions) == 0 {
		row = append(append(append(row, host...), make([]string, 9)...), tail...)
		if err := c.write(row); err != nil {
			return err
		}
	}
	for _, s := range r.Sessions {
		row = append(append(append(row[:0], host...), sessionCells(s)...), tail...)
		if err := c.write(row); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *CSV) write(row []string) error {
	if !c.Raw {
		for i := range row {
			row[i] = sessfmt.Defuse(row[i])
		}
	}
	return c.w.Write(row)
}

// Flush flushes the CSV writer.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func refusedCell(as []client.Attempt) string {
	var parts []string
	for _, a := range as {
		name := a.Status.Name()
		if name == "" {
			name = fmt.Sprintf("0x%x", uint32(a.Status))
		}
		parts = append(parts, fmt.Sprintf("%d:%s", a.Level, name))
	}
	return strings.Join(parts, " ")
}

// sessionCells are the nine session columns of s, empty where its level
// has no such field.
func sessionCells(s client.Session) []string {
	f := s.Level.Fields()
	str := func(has session.Field, v string) string {
		if f&has != 0 {
			return v
		}
		return ""
	}
	num := func(has session.Field, v uint32) string {
		if f&has != 0 {
			return strconv.FormatUint(uint64(v), 10)
		}
		return ""
	}
	return []string{
		str(session.FieldClientName, s.ClientName), str(session.FieldClientName, s.ClientHost()),
		str(session.FieldUserName, s.UserName), num(session.FieldNumOpens, s.NumOpens),
		num(session.FieldTime, s.Time), num(session.FieldIdleTime, s.IdleTime),
		num(session.FieldUserFlags, s.UserFlags), str(session.FieldClientType, s.ClientType),
		str(session.FieldTransport, s.Transport),
	}
}

// Text writes results for people: a line per host, then its sessions as
// "netsess list" tabulates them.
//
//	fs1:445 (127.1.0.1) level 502, 12 sessions, 4ms
//	127.1.0.2:445 level 1 (refused 502:ERROR_INVALID_LEVEL 10:ERROR_INVALID_LEVEL), 2 sessions, 3ms
//	fs2 (10.0.0.2) access_denied: ERROR_ACCESS_DENIED at level 0; level auto tried ...
type Text struct {
	w io.Writer
	// NoSessions prints the host lines only.
	NoSessions bool
}

// NewText returns a Text writer on w.
func NewText(w io.Writer, noSessions bool) *Text { return &Text{w: w, NoSessions: noSessions} }

// Write writes r.
func (t *Text) Write(r *Result) error {
	var b strings.Builder
	b.WriteString(sessfmt.Escape(r.Target))
	host, _, err := net.SplitHostPort(r.Target)
	if err != nil {
		host = r.Target
	}
	if r.Address != "" && r.Address != host {
		fmt.Fprintf(&b, " (%s)", r.Address)
	}
	if r.Collected {
		fmt.Fprintf(&b, " level %d", r.Level)
		if len(r.LevelsRefused) > 0 {
			fmt.Fprintf(&b, " (refused %s)", refusedCell(r.LevelsRefused))
		}
		fmt.Fprintf(&b, ", %d sessions, %v\n", len(r.Sessions), r.Duration.Round(time.Millisecond))
	} else {
		// The detail often starts with the reason in words
		// ("unreachable: ..."): say it once.
		detail := strings.TrimPrefix(r.Failure.Detail, strings.ReplaceAll(string(r.Failure.Reason), "_", " ")+": ")
		fmt.Fprintf(&b, " %s: %s\n", r.Failure.Reason, sessfmt.Escape(detail))
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return err
	}
	if t.NoSessions || len(r.Sessions) == 0 {
		return nil
	}
	infos := make([]session.Info, len(r.Sessions))
	for i, s := range r.Sessions {
		infos[i] = s.Info
	}
	return sessfmt.WriteTable(t.w, r.Level, infos)
}

// Flush does nothing.
func (t *Text) Flush() error { return nil }

// SortByTarget sorts results by target, for output that must not depend
// on the order hosts answered in.
func SortByTarget(rs []*Result) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Target < rs[j].Target })
}

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/sessfmt"
	"github.com/netsession/netsession/session"
)

// The output schema. --json prints one object per session per line with
// these keys in this order, a key only when the level that answered
// carries the field (a carried zero is printed); --csv has every column,
// the absent ones empty. The error columns are set only on the one line a
// failure prints. time and idle_time are seconds, as the server sent
// them; connected_at and last_active_at are the same instants in RFC 3339
// UTC, counted back from when the answer arrived, absent when the server
// sent 0xFFFFFFFF (unknown). Those two came later than the rest and are
// the last CSV columns but one, so that columns read by position keep
// their place; reason, the failure's word in the vocabulary scan uses
// (client.Reason), came last.
func csvColumns() []string {
	return []string{
		"server", "client", "client_host", "client_name", "user", "opens", "time", "idle_time",
		"user_flags", "client_type", "transport", "level",
		"error", "status", "fault",
		"connected_at", "last_active_at", "reason",
	}
}

// ago is the instant sec seconds before t, in RFC 3339 UTC to the second;
// "" for the unknown value 0xFFFFFFFF or a zero t.
func ago(t time.Time, sec uint32) string {
	if sec == session.TimeUnknown || t.IsZero() {
		return ""
	}
	return t.Add(-time.Duration(sec) * time.Second).UTC().Truncate(time.Second).Format(time.RFC3339)
}

// field is one key of a session line, or absent.
type field struct {
	key string
	val any // string or uint32
}

func sessionFields(server string, s client.Session, names map[string]string) []field {
	f := s.Level.Fields()
	out := []field{{"server", server}}
	if f.Has(session.FieldClientName) {
		host := s.ClientHost()
		out = append(out, field{"client", s.ClientName}, field{"client_host", host})
		if n, ok := names[host]; ok {
			out = append(out, field{"client_name", n})
		}
	}
	add := func(has session.Field, key string, v any) {
		if f.Has(has) {
			out = append(out, field{key, v})
		}
	}
	add(session.FieldUserName, "user", s.UserName)
	add(session.FieldNumOpens, "opens", s.NumOpens)
	add(session.FieldTime, "time", s.Time)
	if at := ago(s.Received, s.Time); at != "" {
		add(session.FieldTime, "connected_at", at)
	}
	add(session.FieldIdleTime, "idle_time", s.IdleTime)
	if at := ago(s.Received, s.IdleTime); at != "" {
		add(session.FieldIdleTime, "last_active_at", at)
	}
	add(session.FieldUserFlags, "user_flags", s.UserFlags)
	add(session.FieldClientType, "client_type", s.ClientType)
	add(session.FieldTransport, "transport", s.Transport)
	return append(out, field{"level", uint32(s.Level)})
}

// errorFields describes a failure: "error" is a short phrase (the status
// message for a returned status, the kind otherwise), "reason" the
// failure in the closed vocabulary of client.Classify that scan results
// use too, then "status" and
// "status_name" for a returned status, "fault" and "fault_name" for a
// fault, "level" when the call had one, "tried" for level auto, and
// "detail", the full message.
func errorFields(server string, err error, fc failContext) []field {
	out := []field{{"server", server}}
	detail, _ := describe(err, fc)
	reason := field{"reason", string(client.Classify(err).Reason)}
	var ce *client.Error
	if !errors.As(err, &ce) {
		return append(out, field{"error", "failed"}, reason, field{"detail", detail})
	}
	if ce.IsStatus() {
		out = append(out, field{"error", ce.Status.Message()}, reason, field{"status", uint32(ce.Status)})
		if n := ce.Status.Name(); n != "" {
			out = append(out, field{"status_name", n})
		}
	} else {
		out = append(out, field{"error", ce.Kind.String()}, reason)
	}
	var fe *dcerpc.Fault
	if ce.Kind == client.KindFault || errors.As(err, &fe) {
		f := ce.Fault
		if fe != nil {
			f = fe.Status
		}
		out = append(out, field{"fault", f})
		if n := dcerpc.StatusName(f); n != "" {
			out = append(out, field{"fault_name", n})
		}
	}
	if ce.HasLevel {
		out = append(out, field{"level", uint32(ce.Level)})
	}
	if len(ce.Tried) > 0 {
		var t []map[string]uint32
		for _, a := range ce.Tried {
			t = append(t, map[string]uint32{"level": uint32(a.Level), "status": uint32(a.Status)})
		}
		out = append(out, field{"tried", t})
	}
	return append(out, field{"detail", detail})
}

// writeJSONLine writes fields as one JSON object on one line, keys in
// order. Strings are exact: control characters are JSON escapes, and <, >
// and & stay as they are (no \u003e for the > of ->).
func writeJSONLine(w io.Writer, fields []field) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(f.key); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := enc.Encode(f.val); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// csvOut writes the CSV form: a header, then one row per session or
// failure.
type csvOut struct {
	w    *csv.Writer
	cols []string
	raw  bool
}

func newCSV(w io.Writer, raw bool) *csvOut {
	c := &csvOut{w: csv.NewWriter(w), cols: csvColumns(), raw: raw}
	c.w.Write(c.cols)
	return c
}

func (c *csvOut) row(fields []field) {
	rec := make([]string, len(c.cols))
	for _, f := range fields {
		for i, k := range c.cols {
			if k == f.key {
				switch v := f.val.(type) {
				case string:
					rec[i] = v
					if !c.raw {
						rec[i] = sessfmt.Defuse(v)
					}
				case uint32:
					rec[i] = strconv.FormatUint(uint64(v), 10)
				}
			}
		}
	}
	c.w.Write(rec)
}

func (c *csvOut) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// printer writes sessions and failures in the chosen format.
type printer struct {
	out, errOut io.Writer
	cmd, server string
	json        bool
	csv         *csvOut
	// names maps client_host to the name --resolve found for it.
	names map[string]string
	// fc is what failure messages may mention.
	fc failContext
}

func newPrinter(cmd string, cf *connFlags, server string, stdout, stderr io.Writer) *printer {
	p := &printer{out: stdout, errOut: stderr, cmd: cmd, server: server, json: cf.json, fc: failContext{cf: cf, cmd: cmd}}
	if cf.csv {
		p.csv = newCSV(stdout, cf.csvRaw)
	}
	return p
}

// dial connects for a client command: it returns the printer that reports
// for cmd (with --client and --user for its messages) and the client, or
// a nil client after reporting the failure, whose exit code it returns.
func dial(ctx context.Context, cmd string, cf *connFlags, server string, opts client.Options, stdout, stderr io.Writer, cl, user string) (*printer, *client.Client, int) {
	p := newPrinter(cmd, cf, server, stdout, stderr)
	p.fc.client, p.fc.user = cl, user
	c, err := client.Dial(ctx, server, opts)
	// One server: the Kerberos logon has done its work once connected.
	cf.kerb.close()
	if err != nil {
		return p, nil, p.failure(err)
	}
	logMechanism(opts.Logger, server, cf.kerb.mechanismRequested, c.Mechanism())
	return p, c, exitOK
}

// sessions prints a result; level is the one that answered, tried the
// levels auto gave up on.
func (p *printer) sessions(level session.Level, tried []client.Attempt, ss []client.Session) error {
	switch {
	case p.json:
		for _, s := range ss {
			if err := writeJSONLine(p.out, sessionFields(p.server, s, p.names)); err != nil {
				return err
			}
		}
		return nil
	case p.csv != nil:
		for _, s := range ss {
			p.csv.row(sessionFields(p.server, s, p.names))
		}
		return p.csv.flush()
	}
	fmt.Fprintf(p.out, "Sessions on %s (level %d", sessfmt.Escape(p.server), uint32(level))
	for i, a := range tried {
		if i == 0 {
			fmt.Fprint(p.out, "; refused:")
		}
		fmt.Fprintf(p.out, " %d %s", uint32(a.Level), statusLabel(a.Status))
	}
	fmt.Fprintln(p.out, ")")
	infos := make([]session.Info, len(ss))
	for i, s := range ss {
		infos[i] = s.Info
		if n, ok := p.names[s.ClientHost()]; ok {
			infos[i].ClientName += " (" + n + ")"
		}
	}
	return sessfmt.WriteTable(p.out, level, infos)
}

func statusLabel(s session.Status) string {
	if n := s.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("0x%x", uint32(s))
}

// failure reports err: on stderr always, with hints, and as a line of the
// machine format when one was chosen. It returns the exit code.
func (p *printer) failure(err error) int {
	code := exitCode(err)
	msg, hints := describe(err, p.fc)
	if code == exitUsage {
		fmt.Fprintf(p.errOut, "netsess %s: %s\n", p.cmd, msg)
		return code
	}
	switch {
	case p.json:
		writeJSONLine(p.out, errorFields(p.server, err, p.fc))
	case p.csv != nil:
		p.csv.row(errorFields(p.server, err, p.fc))
		p.csv.flush()
	}
	fmt.Fprintf(p.errOut, "netsess %s: %s: %s\n", p.cmd, sessfmt.Escape(p.server), msg)
	for _, h := range hints {
		fmt.Fprintf(p.errOut, "netsess %s: %s\n", p.cmd, h)
	}
	return code
}

// resolveClients looks up a name for every distinct client that is an IP
// address (a PTR query each, bounded by timeout), for --resolve. Failures
// leave the client without a name.
func resolveClients(ctx context.Context, lookup func(context.Context, string) ([]string, error), timeout time.Duration, ss []client.Session) map[string]string {
	names := make(map[string]string)
	tried := make(map[string]bool)
	for _, s := range ss {
		host := s.ClientHost()
		if tried[host] {
			continue
		}
		tried[host] = true
		if _, err := netip.ParseAddr(host); err != nil {
			continue // already a name
		}
		lctx, cancel := context.WithCancel(ctx)
		if timeout > 0 {
			lctx, cancel = context.WithTimeout(ctx, timeout)
		}
		found, err := lookup(lctx, host)
		cancel()
		if err == nil && len(found) > 0 {
			names[host] = strings.TrimSuffix(found[0], ".")
		}
	}
	return names
}

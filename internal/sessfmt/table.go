// Package sessfmt renders session entries for people: a table in the spirit
// of "net session", with only the columns a level carries. Every text a
// server sent is escaped (Escape) and columns are aligned by the width a
// terminal gives them (Width), so that hostile or wide names neither run
// control sequences nor break the rows.
package sessfmt

import (
	"fmt"
	"io"
	"strings"

	"github.com/netsession/netsession/session"
)

// Duration renders seconds as H:MM:SS under a day and as Dd HH:MM:SS from
// a day on (14d 00:00:01), and the saturated value 0xFFFFFFFF as
// "unknown" (Samba sends it for a session under a second old).
func Duration(sec uint32) string {
	if sec == session.TimeUnknown {
		return "unknown"
	}
	if d := sec / 86400; d > 0 {
		return fmt.Sprintf("%dd %02d:%02d:%02d", d, sec/3600%24, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

// Flags renders sesi_user_flags as words.
func Flags(f uint32) string {
	var w []string
	if f&session.FlagGuest != 0 {
		w = append(w, "guest")
	}
	if f&session.FlagNoEncryption != 0 {
		w = append(w, "noencrypt")
	}
	if rest := f &^ (session.FlagGuest | session.FlagNoEncryption); rest != 0 {
		w = append(w, fmt.Sprintf("0x%x", rest))
	}
	if len(w) == 0 {
		return "-"
	}
	return strings.Join(w, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteTable writes entries of the given level as an aligned table with a
// header; an empty list prints "(no sessions)". Names are escaped
// (Escape), so that each entry is exactly one line, and columns are
// aligned by display width (Width).
func WriteTable(w io.Writer, level session.Level, entries []session.Info) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "(no sessions)")
		return err
	}
	f := level.Fields()
	type col struct {
		field session.Field
		title string
		val   func(*session.Info) string
	}
	cols := []col{
		{session.FieldClientName, "COMPUTER", func(i *session.Info) string { return orDash(Escape(i.ClientName)) }},
		{session.FieldUserName, "USER", func(i *session.Info) string { return orDash(Escape(i.UserName)) }},
		{session.FieldNumOpens, "OPENS", func(i *session.Info) string { return fmt.Sprint(i.NumOpens) }},
		{session.FieldTime, "TIME", func(i *session.Info) string { return Duration(i.Time) }},
		{session.FieldIdleTime, "IDLE", func(i *session.Info) string { return Duration(i.IdleTime) }},
		{session.FieldUserFlags, "FLAGS", func(i *session.Info) string { return Flags(i.UserFlags) }},
		{session.FieldClientType, "CLIENT TYPE", func(i *session.Info) string { return orDash(Escape(i.ClientType)) }},
		{session.FieldTransport, "TRANSPORT", func(i *session.Info) string { return orDash(Escape(i.Transport)) }},
	}
	var rows [][]string
	var row []string
	for _, c := range cols {
		if f.Has(c.field) {
			row = append(row, c.title)
		}
	}
	rows = append(rows, row)
	for i := range entries {
		row = nil
		for _, c := range cols {
			if f.Has(c.field) {
				row = append(row, c.val(&entries[i]))
			}
		}
		rows = append(rows, row)
	}
	return WriteColumns(w, rows)
}

// WriteColumns writes rows as columns separated by two spaces, each as
// wide as its widest cell by display width; the last column is not
// padded. The cells must already be escaped.
func WriteColumns(w io.Writer, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-Width(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

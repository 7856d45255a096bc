// Package sessfmt renders session entries for people: a table in the spirit
// of "net session", with only the columns a level carries.
package sessfmt

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/netsession/netsession/session"
)

// Duration renders seconds as H:MM:SS, and the saturated value 0xFFFFFFFF
// as "unknown" (Samba sends it for a session under a second old).
func Duration(sec uint32) string {
	if sec == session.TimeUnknown {
		return "unknown"
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
// header; an empty list prints "(no sessions)".
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
		{session.FieldClientName, "COMPUTER", func(i *session.Info) string { return orDash(i.ClientName) }},
		{session.FieldUserName, "USER", func(i *session.Info) string { return orDash(i.UserName) }},
		{session.FieldNumOpens, "OPENS", func(i *session.Info) string { return fmt.Sprint(i.NumOpens) }},
		{session.FieldTime, "TIME", func(i *session.Info) string { return Duration(i.Time) }},
		{session.FieldIdleTime, "IDLE", func(i *session.Info) string { return Duration(i.IdleTime) }},
		{session.FieldUserFlags, "FLAGS", func(i *session.Info) string { return Flags(i.UserFlags) }},
		{session.FieldClientType, "CLIENT TYPE", func(i *session.Info) string { return orDash(i.ClientType) }},
		{session.FieldTransport, "TRANSPORT", func(i *session.Info) string { return orDash(i.Transport) }},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var row []string
	for _, c := range cols {
		if f.Has(c.field) {
			row = append(row, c.title)
		}
	}
	fmt.Fprintln(tw, strings.Join(row, "\t"))
	for i := range entries {
		row = row[:0]
		for _, c := range cols {
			if f.Has(c.field) {
				row = append(row, c.val(&entries[i]))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

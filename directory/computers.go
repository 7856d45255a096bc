package directory

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/netsession/netsession/scan"
)

// userAccountControl bits and primary groups (MS-ADTS).
const (
	uacAccountDisable     = 0x0002
	uacServerTrustAccount = 0x2000
	// GroupDomainControllers and GroupReadOnlyDomainControllers are the
	// primary group RIDs of domain controllers.
	GroupDomainControllers         = 516
	GroupReadOnlyDomainControllers = 521
)

// DCFilter selects domain controllers.
type DCFilter int

const (
	// AllComputers keeps domain controllers and other computers.
	AllComputers DCFilter = iota
	// ExcludeDCs leaves domain controllers out.
	ExcludeDCs
	// OnlyDCs keeps domain controllers only.
	OnlyDCs
)

// Query selects computer objects.
type Query struct {
	// SearchBase is the DN to search under (an OU); empty means the whole
	// domain.
	SearchBase string
	// ActiveDays, when positive, leaves out computers whose
	// lastLogonTimestamp is older than that many days, or absent (an
	// account that never logged on). The attribute is replicated lazily
	// (up to 14 days late by default), so small values exclude live hosts.
	ActiveDays int
	// OS, when not empty, keeps computers whose operatingSystem matches:
	// a shell pattern (path.Match, "*Server*") matched without regard to
	// case, or, without wildcards, a substring.
	OS string
	// DCs selects domain controllers (AllComputers by default).
	DCs DCFilter
	// IncludeDisabled keeps disabled computer accounts (left out by
	// default).
	IncludeDisabled bool
	// Now is the clock for ActiveDays; nil means time.Now.
	Now func() time.Time
}

// Computer is one computer object.
type Computer struct {
	DN string
	// SAMAccountName is the account name with its trailing $; Name is
	// the same without it, in upper case (the NetBIOS name).
	SAMAccountName string
	Name           string
	// DNSHostName is the dNSHostName ("" when the object has none).
	DNSHostName string
	// SID is the objectSid in string form, upper case.
	SID             string
	OperatingSystem string
	OSVersion       string
	// Enabled is false when userAccountControl has ACCOUNTDISABLE.
	Enabled bool
	// LastLogon is the lastLogonTimestamp (zero when absent).
	LastLogon time.Time
	// PrimaryGroupID is the primary group's RID; IsDC is true for 516
	// and 521 or a server trust account.
	PrimaryGroupID     int
	UserAccountControl uint32
	IsDC               bool
	// Domain is the DNS name of the domain the object is in.
	Domain string
}

// Exclusion says why a computer object is not a target.
type Exclusion string

// The reasons a computer object is left out.
const (
	ExcludedDisabled Exclusion = "disabled"
	ExcludedStale    Exclusion = "stale"
	ExcludedOS       Exclusion = "os_mismatch"
	ExcludedDC       Exclusion = "domain_controller"
	ExcludedNotDC    Exclusion = "not_domain_controller"
	// ExcludedNoDNSName is a computer without a dNSHostName: it cannot be
	// reached by name, and is reported rather than dropped.
	ExcludedNoDNSName Exclusion = "no_dns_name"
)

// Excluded is a computer object left out, with the reason.
type Excluded struct {
	Computer Computer
	Reason   Exclusion
}

// Discovery is the result of Computers: the targets and every object left
// out, with why.
type Discovery struct {
	// Domain is the domain searched.
	Domain Domain
	// Targets are the computers that passed every filter and have a DNS
	// name, in the directory's order.
	Targets []Computer
	// Excluded are the others, each with its first reason (filters apply
	// in the order disabled, domain controller, operating system, stale,
	// then no DNS name).
	Excluded []Excluded
	// Seen is the number of computer objects the search returned.
	Seen int
}

// Count returns the number of objects excluded for reason.
func (d *Discovery) Count(reason Exclusion) int {
	n := 0
	for _, e := range d.Excluded {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

// computerAttrs are the attributes read for each computer object.
var computerAttrs = []string{"sAMAccountName", "dNSHostName", "objectSid", "operatingSystem",
	"operatingSystemVersion", "userAccountControl", "lastLogonTimestamp", "primaryGroupID"}

// Computers searches for computer objects with a paged search and applies
// q's filters. Objects without a DNS name are in Discovery.Excluded with
// ExcludedNoDNSName, never silently dropped. ctx is checked between pages;
// each page's request is bounded by Config.Timeout.
func (c *Conn) Computers(ctx context.Context, q Query) (*Discovery, error) {
	base := q.SearchBase
	if base == "" {
		base = c.domain.BaseDN
	}
	entries, err := c.search(ctx, base, "(objectCategory=computer)", computerAttrs)
	if err != nil {
		return nil, err
	}
	d := &Discovery{Domain: c.domain, Seen: len(entries)}
	now := time.Now
	if q.Now != nil {
		now = q.Now
	}
	var cutoff time.Time
	if q.ActiveDays > 0 {
		cutoff = now().Add(-time.Duration(q.ActiveDays) * 24 * time.Hour)
	}
	for _, e := range entries {
		comp, err := computerFrom(e, c.domain.DNSName)
		if err != nil {
			c.log.Debug("computer object skipped", "dn", e.DN, "err", err)
			return nil, fmt.Errorf("%w: %s: %w", ErrSearch, e.DN, err)
		}
		if reason := q.exclude(comp, cutoff); reason != "" {
			d.Excluded = append(d.Excluded, Excluded{Computer: comp, Reason: reason})
			continue
		}
		d.Targets = append(d.Targets, comp)
	}
	return d, nil
}

func (q Query) exclude(comp Computer, cutoff time.Time) Exclusion {
	switch {
	case !comp.Enabled && !q.IncludeDisabled:
		return ExcludedDisabled
	case q.DCs == ExcludeDCs && comp.IsDC:
		return ExcludedDC
	case q.DCs == OnlyDCs && !comp.IsDC:
		return ExcludedNotDC
	case q.OS != "" && !MatchOS(q.OS, comp.OperatingSystem):
		return ExcludedOS
	case !cutoff.IsZero() && comp.LastLogon.Before(cutoff):
		return ExcludedStale
	case comp.DNSHostName == "":
		return ExcludedNoDNSName
	}
	return ""
}

// MatchOS reports whether the operating system os matches pattern: a shell
// pattern when it has wildcards, a substring otherwise, both without regard to
// case.
func MatchOS(pattern, os string) bool {
	p, o := strings.ToLower(pattern), strings.ToLower(os)
	if strings.ContainsAny(p, "*?[") {
		ok, err := path.Match(p, o)
		return err == nil && ok
	}
	return strings.Contains(o, p)
}

func computerFrom(e *ldap.Entry, domain string) (Computer, error) {
	sid, err := DecodeSID(e.GetRawAttributeValue("objectSid"))
	if err != nil {
		return Computer{}, err
	}
	sam := e.GetAttributeValue("sAMAccountName")
	comp := Computer{
		DN:              e.DN,
		SAMAccountName:  sam,
		Name:            strings.ToUpper(strings.TrimSuffix(sam, "$")),
		DNSHostName:     strings.ToLower(strings.TrimSuffix(e.GetAttributeValue("dNSHostName"), ".")),
		SID:             strings.ToUpper(sid),
		OperatingSystem: e.GetAttributeValue("operatingSystem"),
		OSVersion:       e.GetAttributeValue("operatingSystemVersion"),
		Domain:          domain,
	}
	if v := e.GetAttributeValue("userAccountControl"); v != "" {
		// The attribute is a signed 32-bit integer in LDAP syntax.
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Computer{}, fmt.Errorf("userAccountControl %q: %w", v, err)
		}
		comp.UserAccountControl = uint32(n)
	}
	comp.Enabled = comp.UserAccountControl&uacAccountDisable == 0
	if v := e.GetAttributeValue("primaryGroupID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Computer{}, fmt.Errorf("primaryGroupID %q: %w", v, err)
		}
		comp.PrimaryGroupID = n
	}
	comp.IsDC = comp.PrimaryGroupID == GroupDomainControllers || comp.PrimaryGroupID == GroupReadOnlyDomainControllers ||
		comp.UserAccountControl&uacServerTrustAccount != 0
	if v := e.GetAttributeValue("lastLogonTimestamp"); v != "" {
		t, err := ParseFileTime(v)
		if err != nil {
			return Computer{}, fmt.Errorf("lastLogonTimestamp: %w", err)
		}
		comp.LastLogon = t
	}
	return comp, nil
}

// fileTimeEpoch is 1601-01-01 in Unix seconds.
const fileTimeEpoch = -11644473600

// ParseFileTime reads an Active Directory integer time (100-nanosecond
// intervals since 1601-01-01 UTC, in decimal). 0 is the zero time.
func ParseFileTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("integer time %q: not a non-negative integer", s)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.Unix(fileTimeEpoch+n/1e7, (n%1e7)*100).UTC(), nil
}

// FormatFileTime is the inverse of ParseFileTime.
func FormatFileTime(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt((t.Unix()-fileTimeEpoch)*1e7+int64(t.Nanosecond()/100), 10)
}

// ScanTargets turns the discovery's targets into scan targets, by DNS name,
// on port (0: the transport's default), and returns beside them the computer
// of each target keyed by scan.Result.Target, for Resolver.Resolve.
func (d *Discovery) ScanTargets(port int) ([]scan.Target, map[string]*Computer) {
	ts := make([]scan.Target, 0, len(d.Targets))
	byTarget := make(map[string]*Computer, len(d.Targets))
	for i := range d.Targets {
		c := &d.Targets[i]
		t := scan.Target{Host: c.DNSHostName, Port: port}
		t.Input = t.Addr()
		ts = append(ts, t)
		byTarget[t.Input] = c
	}
	return ts, byTarget
}

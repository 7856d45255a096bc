package bloodhound

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
)

// DataVersion is the BloodHound CE data version written.
const DataVersion = 6

// Collection method bits of the meta block's "methods".
const (
	MethodGroup         = 1
	MethodLocalAdmin    = 2
	MethodGPOLocalGroup = 4
	MethodSession       = 8
	MethodLoggedOn      = 16
	MethodTrusts        = 32
	MethodACL           = 64
	MethodContainer     = 128
	MethodRDP           = 256
	MethodObjectProps   = 512
	MethodSessionLoop   = 1024
	MethodLoggedOnLoop  = 2048
)

// FailureLevel0 is the FailureReason of a host that answered only at level 0,
// which carries no user names.
const FailureLevel0 = "level_0_only"

// SessionPair is one session as BloodHound takes it: the client computer's
// SID and the user's.
type SessionPair struct {
	UserSID     string `json:"UserSID"`
	ComputerSID string `json:"ComputerSID"`
}

// SessionResult is a session collection of one computer.
type SessionResult struct {
	Results       []SessionPair `json:"Results"`
	Collected     bool          `json:"Collected"`
	FailureReason *string       `json:"FailureReason"`
}

// Status says whether a computer could be reached (nil when it could).
type Status struct {
	Connectable bool   `json:"Connectable"`
	Error       string `json:"Error"`
}

// Properties are the node's properties from the directory.
type Properties struct {
	Name               string `json:"name"`
	Domain             string `json:"domain,omitempty"`
	DomainSID          string `json:"domainsid,omitempty"`
	DNSHostName        string `json:"dnshostname,omitempty"`
	SAMAccountName     string `json:"samaccountname,omitempty"`
	OperatingSystem    string `json:"operatingsystem,omitempty"`
	Enabled            *bool  `json:"enabled,omitempty"`
	LastLogonTimestamp int64  `json:"lastlogontimestamp,omitempty"`
	DistinguishedName  string `json:"distinguishedname,omitempty"`
	IsDC               bool   `json:"isdc"`
}

// Computer is one record of the computers file.
type Computer struct {
	ObjectIdentifier   string        `json:"ObjectIdentifier"`
	Properties         Properties    `json:"Properties"`
	Sessions           SessionResult `json:"Sessions"`
	PrivilegedSessions SessionResult `json:"PrivilegedSessions"`
	RegistrySessions   SessionResult `json:"RegistrySessions"`
	Status             *Status       `json:"Status"`
	IsDC               bool          `json:"IsDC"`
	DomainSID          string        `json:"DomainSID,omitempty"`
}

// Meta is the file's meta block.
type Meta struct {
	Methods          int    `json:"methods"`
	Type             string `json:"type"`
	Count            int    `json:"count"`
	Version          int    `json:"version"`
	CollectorVersion string `json:"collectorversion"`
}

// File is a whole computers file.
type File struct {
	Data []Computer `json:"data"`
	Meta Meta       `json:"meta"`
}

// Options configure a Computers collection.
type Options struct {
	// CollectorVersion is written as meta.collectorversion.
	CollectorVersion string
	// Domain is the domain the hosts are in, for hosts that did not come
	// from the directory (their Properties.domain and the name suffix).
	Domain directory.Domain
	// Now names the files of WriteDir; nil means time.Now.
	Now func() time.Time
}

// Report counts what a collection left out.
type Report struct {
	// Hosts is the number of records; NoSID lists the targets left out
	// because their SID was not resolved.
	Hosts int
	NoSID []string
	// Pairs is the number of session pairs written, Duplicates those
	// merged, Unresolved the sessions left out because a SID was
	// missing, Skipped those the ingestors drop (by reason).
	Pairs, Duplicates, Unresolved int
	Skipped                       map[directory.Skip]int
	// Withheld counts the sessions of hosts that were not collected (a
	// failure after the first page, a host that answered only at level
	// 0): a record that is not collected carries no pairs.
	Withheld int
}

// Computers accumulates computer records. It is not safe for concurrent use:
// add results from one goroutine (scan.Scanner.Run's emit callback is one).
type Computers struct {
	opt    Options
	recs   []Computer
	bySID  map[string]int
	pairs  map[[3]string]bool
	report Report
}

// NewComputers returns an empty collection.
func NewComputers(opt Options) *Computers {
	return &Computers{opt: opt, bySID: map[string]int{}, pairs: map[[3]string]bool{}, report: Report{Skipped: map[directory.Skip]int{}}}
}

// Outcome maps a scan result to BloodHound's Collected and FailureReason, and
// the Status of a host that could not be reached (see the package
// documentation for the table).
func Outcome(collected bool, f client.Failure, level uint32, hasLevel bool) (bool, *string, *Status) {
	if collected {
		if hasLevel && level == 0 {
			s := FailureLevel0
			return false, &s, nil
		}
		return true, nil, nil
	}
	var reason string
	var status *Status
	switch f.Reason {
	case client.ReasonAccessDenied:
		reason = "ErrorAccessDenied"
	case client.ReasonTimeout:
		reason = "Timeout"
	case client.ReasonInvalidLevel:
		reason = "ErrorInvalidLevel"
	case client.ReasonPortClosed:
		reason = "PortNotOpen"
		status = &Status{Error: reason}
	case client.ReasonUnreachable, client.ReasonNameNotResolved:
		reason = string(f.Reason)
		status = &Status{Error: reason}
	case "":
		reason = "unknown"
	default:
		reason = string(f.Reason)
	}
	return false, &reason, status
}

// Add adds a resolved host. A host without a SID is left out (Report.NoSID).
// A host added twice (the same SID) is merged: its session pairs are the
// union, and it counts as collected when either result was. The sessions
// of a result that is not collected are left out (Report.Withheld): a
// record that is not collected carries no pairs.
func (c *Computers) Add(h *directory.Host) {
	if h.SID == "" {
		c.report.NoSID = append(c.report.NoSID, h.Result.Target)
		return
	}
	sid := strings.ToUpper(h.SID)
	r := h.Result
	collected, reason, status := Outcome(r.Collected, r.Failure, uint32(r.Level), r.HasLevel)
	i, ok := c.bySID[sid]
	if !ok {
		i = len(c.recs)
		c.bySID[sid] = i
		c.recs = append(c.recs, c.record(sid, h))
		c.recs[i].Sessions = SessionResult{Results: []SessionPair{}, Collected: collected, FailureReason: reason}
		c.recs[i].Status = status
		c.report.Hosts++
	} else if collected && !c.recs[i].Sessions.Collected {
		c.recs[i].Sessions.Collected, c.recs[i].Sessions.FailureReason = true, nil
		c.recs[i].Status = nil
	}
	rec := &c.recs[i]
	if !collected {
		c.report.Withheld += len(h.Sessions)
		return
	}
	for _, s := range h.Sessions {
		if s.Skip != directory.SkipNone {
			c.report.Skipped[s.Skip]++
			continue
		}
		if !s.Resolved() {
			c.report.Unresolved++
			continue
		}
		p := SessionPair{UserSID: strings.ToUpper(s.UserSID), ComputerSID: strings.ToUpper(s.ComputerSID)}
		key := [3]string{sid, p.UserSID, p.ComputerSID}
		if c.pairs[key] {
			c.report.Duplicates++
			continue
		}
		c.pairs[key] = true
		rec.Sessions.Results = append(rec.Sessions.Results, p)
		c.report.Pairs++
	}
}

func (c *Computers) record(sid string, h *directory.Host) Computer {
	rec := Computer{
		ObjectIdentifier:   sid,
		PrivilegedSessions: SessionResult{Results: []SessionPair{}},
		RegistrySessions:   SessionResult{Results: []SessionPair{}},
	}
	dom := c.opt.Domain
	p := &rec.Properties
	if comp := h.Computer; comp != nil {
		domain := strings.ToUpper(comp.Domain)
		if domain == "" {
			domain = strings.ToUpper(dom.DNSName)
		}
		p.Name = strings.ToUpper(comp.Name)
		if comp.DNSHostName != "" {
			p.Name = strings.ToUpper(comp.DNSHostName)
		} else if domain != "" {
			p.Name += "." + domain
		}
		p.Domain = domain
		p.DNSHostName = comp.DNSHostName
		p.SAMAccountName = comp.SAMAccountName
		p.OperatingSystem = comp.OperatingSystem
		enabled := comp.Enabled
		p.Enabled = &enabled
		if !comp.LastLogon.IsZero() {
			p.LastLogonTimestamp = comp.LastLogon.Unix()
		}
		p.DistinguishedName = strings.ToUpper(comp.DN)
		p.IsDC = comp.IsDC
		rec.IsDC = comp.IsDC
	} else {
		p.Name = strings.ToUpper(h.Result.Target)
		p.Domain = strings.ToUpper(dom.DNSName)
	}
	if dom.SID != "" {
		p.DomainSID = strings.ToUpper(dom.SID)
		rec.DomainSID = p.DomainSID
	}
	return rec
}

// Report returns what the collection left out so far.
func (c *Computers) Report() Report {
	r := c.report
	r.NoSID = append([]string(nil), c.report.NoSID...)
	r.Skipped = make(map[directory.Skip]int, len(c.report.Skipped))
	for k, v := range c.report.Skipped {
		r.Skipped[k] = v
	}
	return r
}

// File returns the collection as a file, records in SID order.
func (c *Computers) File() File {
	data := append([]Computer(nil), c.recs...)
	sort.Slice(data, func(i, j int) bool { return data[i].ObjectIdentifier < data[j].ObjectIdentifier })
	return File{Data: data, Meta: Meta{Methods: MethodSession, Type: "computers", Count: len(data),
		Version: DataVersion, CollectorVersion: c.opt.CollectorVersion}}
}

// WriteJSON writes the computers file.
func (c *Computers) WriteJSON(w io.Writer) error {
	f := c.File()
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteDir writes the computers file and a zip holding it into dir, named as
// the ingestors name them (20060102150405_computers.json and
// 20060102150405_BloodHound.zip), and returns their paths.
func (c *Computers) WriteDir(dir string) (jsonPath, zipPath string, err error) {
	now := time.Now
	if c.opt.Now != nil {
		now = c.opt.Now
	}
	stamp := now().UTC().Format("20060102150405")
	name := stamp + "_computers.json"
	jsonPath = filepath.Join(dir, name)
	zipPath = filepath.Join(dir, stamp+"_BloodHound.zip")
	jf, err := os.Create(jsonPath)
	if err != nil {
		return "", "", err
	}
	if err := c.WriteJSON(jf); err != nil {
		jf.Close()
		return "", "", err
	}
	if err := jf.Close(); err != nil {
		return "", "", err
	}
	zf, err := os.Create(zipPath)
	if err != nil {
		return "", "", err
	}
	zw := zip.NewWriter(zf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now()})
	if err == nil {
		err = c.WriteJSON(w)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("bloodhound zip: %w", err)
	}
	return jsonPath, zipPath, nil
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/netsession/netsession/internal/boundedfile"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

// Seed is one session to preload into the table, in the terms of the
// `netsess list --json` output.
type Seed struct {
	// Client is the client name as a server sent it (`\\10.0.0.5`,
	// `10.0.0.5`, `WKS1`); a leading `\\` is optional.
	Client string
	// User is the account name; "" is an anonymous session.
	User string
	// Opens is the number of open files, pipes and devices.
	Opens uint32
	// Time is how many seconds ago the session was set up; Idle how many
	// seconds ago it was last active. session.TimeUnknown (0xFFFFFFFF) is
	// kept as such: the session reads as that old.
	Time, Idle uint32
	// Flags are sesi_user_flags: session.FlagGuest, session.FlagNoEncryption.
	Flags uint32
	// ClientType and Transport are sesi_cltype_name and sesi_transport.
	ClientType, Transport string
}

// DefaultTransport is sesi502_transport for a seed without a "transport"
// field: the device name Windows reports for direct-hosted SMB (TCP 445).
const DefaultTransport = smb2.DefaultTransport

// MaxSeedOpens bounds Seed.Opens: a session with more open files than this
// is not plausible, so such an entry is taken for a mistake.
const MaxSeedOpens = 1 << 20

// maxSeedFile bounds the size of a seed file.
const maxSeedFile = 64 << 20

// SeedError is a problem with one seed entry or with the seed file as a
// whole (Index -1).
type SeedError struct {
	File  string
	Index int
	Err   error
}

func (e *SeedError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("seed file %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("seed file %s: entry %d: %v", e.File, e.Index, e.Err)
}

func (e *SeedError) Unwrap() error { return e.Err }

// ErrSeed is wrapped by every seed entry problem that is not a JSON syntax
// or type error.
var ErrSeed = errors.New("invalid seed entry")

// seedEntry is the JSON schema of `netsess list --json`. server,
// client_host, client_name, connected_at, last_active_at and level are
// accepted and ignored.
type seedEntry struct {
	Server     *string `json:"server"`
	Client     *string `json:"client"`
	ClientHost *string `json:"client_host"`
	ClientName *string `json:"client_name"` // list --resolve; ignored
	User       *string `json:"user"`
	Opens      *uint32 `json:"opens"`
	Time       *uint32 `json:"time"`
	IdleTime   *uint32 `json:"idle_time"`
	// The absolute forms of time and idle_time that list prints beside
	// them; accepted and ignored (time and idle_time say the same).
	ConnectedAt  *string `json:"connected_at"`
	LastActiveAt *string `json:"last_active_at"`
	UserFlags    *uint32 `json:"user_flags"`
	ClientType   *string `json:"client_type"`
	Transport    *string `json:"transport"`
	Level        *uint32 `json:"level"`
	// An error record of `list --json`: recognised so that it is refused
	// as such rather than for an unknown key.
	Error      *string         `json:"error"`
	Reason     *string         `json:"reason"`
	Status     *uint32         `json:"status"`
	StatusName *string         `json:"status_name"`
	Fault      *uint32         `json:"fault"`
	FaultName  *string         `json:"fault_name"`
	Tried      json.RawMessage `json:"tried"`
	Detail     *string         `json:"detail"`
}

func (e *seedEntry) seed() (Seed, error) {
	if e.Error != nil {
		return Seed{}, fmt.Errorf("%w: an error record (%q), not a session", ErrSeed, *e.Error)
	}
	var s Seed
	switch {
	case e.Client != nil:
		s.Client = *e.Client
	case e.ClientHost != nil:
		s.Client = *e.ClientHost
	}
	s.Client = strings.TrimSpace(strings.TrimPrefix(s.Client, `\\`))
	if s.Client == "" {
		return Seed{}, fmt.Errorf("%w: no client", ErrSeed)
	}
	if e.User != nil {
		s.User = *e.User
	}
	if e.Opens != nil {
		s.Opens = *e.Opens
	}
	if s.Opens > MaxSeedOpens {
		return Seed{}, fmt.Errorf("%w: opens %d over the limit of %d", ErrSeed, s.Opens, MaxSeedOpens)
	}
	if e.Time != nil {
		s.Time = *e.Time
	}
	if e.IdleTime != nil {
		s.Idle = *e.IdleTime
	}
	if s.Idle > s.Time && s.Time != session.TimeUnknown {
		return Seed{}, fmt.Errorf("%w: idle_time %d is longer than the session's time %d", ErrSeed, s.Idle, s.Time)
	}
	if e.UserFlags != nil {
		s.Flags = *e.UserFlags
	}
	if s.Flags&^(session.FlagGuest|session.FlagNoEncryption) != 0 {
		return Seed{}, fmt.Errorf("%w: user_flags 0x%x has bits other than SESS_GUEST (0x1) and SESS_NOENCRYPTION (0x2)", ErrSeed, s.Flags)
	}
	if e.ClientType != nil {
		s.ClientType = *e.ClientType
	}
	s.Transport = DefaultTransport
	if e.Transport != nil {
		s.Transport = *e.Transport
	}
	return s, nil
}

// ParseSeed parses seed data: a JSON array of session objects, or the same
// objects one per line (JSON Lines, what `netsess list --json` prints).
// Unknown fields are refused. file names the data in errors, which are
// *SeedError values naming the entry (counted from 0) and the problem.
func ParseSeed(file string, data []byte) ([]Seed, error) {
	trimmed := bytes.TrimSpace(data)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	array := len(trimmed) > 0 && trimmed[0] == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, &SeedError{File: file, Index: -1, Err: err}
		}
	}
	var out []Seed
	for i := 0; ; i++ {
		if array && !dec.More() {
			if _, err := dec.Token(); err != nil {
				return nil, &SeedError{File: file, Index: -1, Err: err}
			}
			if dec.More() {
				return nil, &SeedError{File: file, Index: -1, Err: errors.New("data after the closing ]")}
			}
			break
		}
		var e seedEntry
		if err := dec.Decode(&e); err != nil {
			if !array && errors.Is(err, io.EOF) {
				break
			}
			return nil, &SeedError{File: file, Index: i, Err: err}
		}
		s, err := e.seed()
		if err != nil {
			return nil, &SeedError{File: file, Index: i, Err: err}
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadSeed reads and parses the seed file at path.
func LoadSeed(path string) ([]Seed, error) {
	data, err := boundedfile.Read(path, maxSeedFile)
	if err != nil {
		return nil, &SeedError{File: path, Index: -1, Err: err}
	}
	return ParseSeed(path, data)
}

// MarshalSeed renders seeds in the schema ParseSeed reads (a JSON array),
// with every field present.
func MarshalSeed(seeds []Seed) ([]byte, error) {
	type out struct {
		Client     string `json:"client"`
		User       string `json:"user"`
		Opens      uint32 `json:"opens"`
		Time       uint32 `json:"time"`
		IdleTime   uint32 `json:"idle_time"`
		UserFlags  uint32 `json:"user_flags"`
		ClientType string `json:"client_type"`
		Transport  string `json:"transport"`
	}
	list := make([]out, len(seeds))
	for i, s := range seeds {
		list[i] = out{s.Client, s.User, s.Opens, s.Time, s.Idle, s.Flags, s.ClientType, s.Transport}
	}
	return json.MarshalIndent(list, "", "  ")
}

// Spec returns the table entry that restores s as of now on the table's
// clock: created Time seconds ago and last active Idle seconds ago, with
// its opens. A Time of session.TimeUnknown becomes an age that saturates
// (an hour past 32 bits of seconds); an Idle of session.TimeUnknown means
// last active when it was set up.
func (s Seed) Spec(now time.Time) session.Spec {
	age := time.Duration(s.Time) * time.Second
	if s.Time == session.TimeUnknown {
		age += time.Hour
	}
	spec := session.Spec{
		Client:       s.Client,
		User:         s.User,
		Guest:        s.Flags&session.FlagGuest != 0,
		NoEncryption: s.Flags&session.FlagNoEncryption != 0,
		ClientType:   s.ClientType,
		Transport:    s.Transport,
		Created:      now.Add(-age),
		Opens:        s.Opens,
	}
	if s.Idle != session.TimeUnknown {
		spec.LastActive = now.Add(-time.Duration(s.Idle) * time.Second)
	}
	return spec
}

// seed opens the seeds in file order, each restored through its Spec.
func seed(t *session.Table, seeds []Seed) error {
	now := t.Now()
	for i, sd := range seeds {
		if _, err := t.Open(sd.Spec(now)); err != nil {
			return fmt.Errorf("server: seed %d: %w", i, err)
		}
	}
	return nil
}

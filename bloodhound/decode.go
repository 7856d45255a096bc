package bloodhound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// ErrInvalid is in the chain of every error of Decode.
var ErrInvalid = errors.New("bloodhound: invalid computers data")

// sidPattern is a SID in string form as the ingest side keys nodes: upper
// case S, decimal parts.
var sidPattern = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)+$`)

// computerKeys are the keys a computer record of data version 6 may carry;
// required ones map to true.
var computerKeys = map[string]bool{
	"ObjectIdentifier": true, "Properties": false, "Sessions": true, "PrivilegedSessions": true,
	"RegistrySessions": true, "Status": false, "IsDC": false, "DomainSID": false,
	"Aces": false, "IsDeleted": false, "IsACLProtected": false, "ContainedBy": false,
	"PrimaryGroupSID": false, "AllowedToDelegate": false, "AllowedToAct": false,
	"DumpSMSAPassword": false, "LocalGroups": false, "UserRights": false, "DCRegistryData": false,
	"HasSIDHistory": false, "UnconstrainedDelegation": false, "SmbInfo": false,
	"IsWebClientRunning": false, "NTLMRegistryData": false,
}

// Decode reads a computers file strictly: "data" and "meta" (in either
// order) and nothing else; meta's type "computers", version 6, count equal to
// the records, methods with the Session bit; every record with an upper-case
// SID as ObjectIdentifier, no key a computer record of data version 6 does
// not have, the three session collections with exactly Results, Collected
// and FailureReason, each result with UserSID and ComputerSID (upper-case
// SIDs) and at most an integer LogonType, no result in a collection that was
// not collected, no FailureReason on one that was, no pair twice, and Status
// null or {Connectable, Error}. It is meant for checking output, ours or
// another collector's.
func Decode(b []byte) (*File, error) {
	top, err := object(b, "file")
	if err != nil {
		return nil, err
	}
	if err := keys(top, "file", map[string]bool{"data": true, "meta": true}); err != nil {
		return nil, err
	}
	var f File
	meta, err := object(top["meta"], "meta")
	if err != nil {
		return nil, err
	}
	if err := keys(meta, "meta", map[string]bool{"methods": true, "type": true, "count": true, "version": true,
		"collectorversion": true}); err != nil {
		return nil, err
	}
	if err := strict(top["meta"], &f.Meta); err != nil {
		return nil, fmt.Errorf("%w: meta: %w", ErrInvalid, err)
	}
	switch {
	case f.Meta.Type != "computers":
		return nil, fmt.Errorf("%w: meta.type %q", ErrInvalid, f.Meta.Type)
	case f.Meta.Version != DataVersion:
		return nil, fmt.Errorf("%w: meta.version %d", ErrInvalid, f.Meta.Version)
	case f.Meta.Methods&MethodSession == 0:
		return nil, fmt.Errorf("%w: meta.methods %d lacks the Session bit", ErrInvalid, f.Meta.Methods)
	}
	var data []json.RawMessage
	if err := strict(top["data"], &data); err != nil || data == nil {
		return nil, fmt.Errorf("%w: data is not an array: %v", ErrInvalid, err)
	}
	if f.Meta.Count != len(data) {
		return nil, fmt.Errorf("%w: meta.count %d for %d records", ErrInvalid, f.Meta.Count, len(data))
	}
	f.Data = make([]Computer, 0, len(data))
	for i, raw := range data {
		c, err := decodeComputer(raw)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		f.Data = append(f.Data, c)
	}
	return &f, nil
}

func decodeComputer(raw []byte) (Computer, error) {
	var c Computer
	m, err := object(raw, "record")
	if err != nil {
		return c, err
	}
	if err := keys(m, "record", computerKeys); err != nil {
		return c, err
	}
	if err := strict(m["ObjectIdentifier"], &c.ObjectIdentifier); err != nil || !sidPattern.MatchString(c.ObjectIdentifier) {
		return c, fmt.Errorf("%w: ObjectIdentifier %s is not an upper-case SID", ErrInvalid, m["ObjectIdentifier"])
	}
	if p, ok := m["Properties"]; ok {
		props, err := object(p, "Properties")
		if err != nil {
			return c, err
		}
		if n, ok := props["name"]; ok {
			if err := strict(n, &c.Properties.Name); err != nil {
				return c, fmt.Errorf("%w: Properties.name: %w", ErrInvalid, err)
			}
		}
		// Other properties are free-form for the ingest side; the
		// ones this package writes are read when they have its types.
		_ = json.Unmarshal(p, &c.Properties)
	}
	for _, s := range []struct {
		key string
		dst *SessionResult
	}{{"Sessions", &c.Sessions}, {"PrivilegedSessions", &c.PrivilegedSessions}, {"RegistrySessions", &c.RegistrySessions}} {
		if err := decodeSessions(m[s.key], s.key, s.dst); err != nil {
			return c, err
		}
	}
	if st, ok := m["Status"]; ok && !bytes.Equal(bytes.TrimSpace(st), []byte("null")) {
		sm, err := object(st, "Status")
		if err != nil {
			return c, err
		}
		if err := keys(sm, "Status", map[string]bool{"Connectable": true, "Error": true}); err != nil {
			return c, err
		}
		c.Status = &Status{}
		if err := strict(st, c.Status); err != nil {
			return c, fmt.Errorf("%w: Status: %w", ErrInvalid, err)
		}
	}
	if v, ok := m["IsDC"]; ok {
		if err := strict(v, &c.IsDC); err != nil {
			return c, fmt.Errorf("%w: IsDC: %w", ErrInvalid, err)
		}
	}
	if v, ok := m["DomainSID"]; ok {
		if err := strict(v, &c.DomainSID); err != nil || (c.DomainSID != "" && !sidPattern.MatchString(c.DomainSID)) {
			return c, fmt.Errorf("%w: DomainSID %s", ErrInvalid, v)
		}
	}
	return c, nil
}

func decodeSessions(raw []byte, name string, dst *SessionResult) error {
	m, err := object(raw, name)
	if err != nil {
		return err
	}
	if err := keys(m, name, map[string]bool{"Results": true, "Collected": true, "FailureReason": true}); err != nil {
		return err
	}
	if err := strict(m["Collected"], &dst.Collected); err != nil {
		return fmt.Errorf("%w: %s.Collected: %w", ErrInvalid, name, err)
	}
	if err := strict(m["FailureReason"], &dst.FailureReason); err != nil {
		return fmt.Errorf("%w: %s.FailureReason: %w", ErrInvalid, name, err)
	}
	var results []json.RawMessage
	if err := strict(m["Results"], &results); err != nil || results == nil {
		return fmt.Errorf("%w: %s.Results is not an array", ErrInvalid, name)
	}
	switch {
	case dst.Collected && dst.FailureReason != nil:
		return fmt.Errorf("%w: %s collected with FailureReason %q", ErrInvalid, name, *dst.FailureReason)
	case !dst.Collected && len(results) > 0:
		return fmt.Errorf("%w: %s not collected but has %d results", ErrInvalid, name, len(results))
	}
	dst.Results = make([]SessionPair, 0, len(results))
	seen := map[SessionPair]bool{}
	for j, r := range results {
		rm, err := object(r, name+".Results")
		if err != nil {
			return err
		}
		if err := keys(rm, name+".Results", map[string]bool{"UserSID": true, "ComputerSID": true, "LogonType": false}); err != nil {
			return err
		}
		var p SessionPair
		if strict(rm["UserSID"], &p.UserSID) != nil || strict(rm["ComputerSID"], &p.ComputerSID) != nil ||
			!sidPattern.MatchString(p.UserSID) || !sidPattern.MatchString(p.ComputerSID) {
			return fmt.Errorf("%w: %s.Results[%d]: SIDs %s, %s", ErrInvalid, name, j, rm["UserSID"], rm["ComputerSID"])
		}
		if lt, ok := rm["LogonType"]; ok {
			var n int
			if err := strict(lt, &n); err != nil {
				return fmt.Errorf("%w: %s.Results[%d].LogonType: %w", ErrInvalid, name, j, err)
			}
		}
		if seen[p] {
			return fmt.Errorf("%w: %s.Results: pair %+v twice", ErrInvalid, name, p)
		}
		seen[p] = true
		dst.Results = append(dst.Results, p)
	}
	return nil
}

// object decodes a JSON object into its members, refusing anything else.
func object(b []byte, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := strict(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s is not an object", ErrInvalid, what)
	}
	return m, nil
}

// keys checks m's keys: every one known, every required one present.
func keys(m map[string]json.RawMessage, what string, known map[string]bool) error {
	for k := range m {
		if _, ok := known[k]; !ok {
			return fmt.Errorf("%w: %s has unknown key %q", ErrInvalid, what, k)
		}
	}
	for k, req := range known {
		if _, ok := m[k]; req && !ok {
			return fmt.Errorf("%w: %s lacks %q", ErrInvalid, what, k)
		}
	}
	return nil
}

// strict decodes one JSON value into v with unknown fields refused and
// nothing after the value.
func strict(b []byte, v any) error {
	if b == nil {
		return errors.New("missing")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

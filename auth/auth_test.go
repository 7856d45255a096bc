package auth_test

import (
	"encoding/asn1"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netsession/netsession/auth"
	"github.com/netsession/netsession/session"
)

func TestMechanismOID(t *testing.T) {
	for m, want := range map[auth.Mechanism]asn1.ObjectIdentifier{
		auth.MechSPNEGO:     {1, 3, 6, 1, 5, 5, 2},
		auth.MechNTLM:       {1, 3, 6, 1, 4, 1, 311, 2, 2, 10},
		auth.MechKerberos:   {1, 2, 840, 113554, 1, 2, 2},
		auth.MechMSKerberos: {1, 2, 840, 48018, 1, 2, 2},
	} {
		got, err := m.OID()
		if err != nil || !got.Equal(want) {
			t.Errorf("%v.OID() = %v, %v; want %v", m, got, err, want)
		}
		if back := auth.MechanismOf(want); back != m {
			t.Errorf("MechanismOf(%v) = %q, want %q", want, back, m)
		}
		if m.String() == string(m) {
			t.Errorf("%q has no name", string(m))
		}
	}
	for _, bad := range []auth.Mechanism{"", "1", "1.x.3", "1.-2", "1.02", "1..2"} {
		if oid, err := bad.OID(); err == nil {
			t.Errorf("%q.OID() = %v, want an error", string(bad), oid)
		}
	}
	if s := auth.Mechanism("1.2.3").String(); s != "1.2.3" {
		t.Errorf("unknown mechanism String = %q", s)
	}
}

func TestIdentityCaller(t *testing.T) {
	id := auth.Identity{
		User: "alice", Domain: "CORP", UserSID: "S-1-5-21-1-2-3-1104",
		GroupSIDs: []string{"S-1-5-21-1-2-3-512"}, Groups: []string{"Users"}, Guest: true,
	}
	want := session.Caller{
		User: "alice", Domain: "CORP", SID: "S-1-5-21-1-2-3-1104",
		GroupSIDs: []string{"S-1-5-21-1-2-3-512"}, Groups: []string{"Users"}, Guest: true,
	}
	c := id.Caller()
	if d := cmp.Diff(want, c); d != "" {
		t.Fatalf("Caller (-want +got):\n%s", d)
	}
	// The caller owns its slices.
	c.GroupSIDs[0], c.Groups[0] = "x", "x"
	if id.GroupSIDs[0] == "x" || id.Groups[0] == "x" {
		t.Fatal("Caller shares the identity's slices")
	}
	if session.ClassOf(id.Caller()) != session.ClassAdmin {
		t.Fatal("a Domain Admins SID does not make an administrator")
	}
	if !(auth.Identity{Anonymous: true}).Caller().IsAnonymous() {
		t.Fatal("anonymous identity")
	}
}

package session

import "testing"

// TestClassOfSIDs: the class decision takes well-known SIDs as well as
// group names, as a Kerberos PAC gives SIDs only.
func TestClassOfSIDs(t *testing.T) {
	const domain = "S-1-5-21-1004336348-1177238915-682003330"
	tests := []struct {
		name string
		c    Caller
		want Class
	}{
		{"BUILTIN Administrators", Caller{User: "a", GroupSIDs: []string{domain + "-513", SIDAdministrators}}, ClassAdmin},
		{"Domain Admins", Caller{User: "a", GroupSIDs: []string{domain + "-513", domain + "-512"}}, ClassAdmin},
		{"Domain Admins lower-case s", Caller{User: "a", GroupSIDs: []string{"s-1-5-21-1-2-3-512"}}, ClassAdmin},
		{"Server Operators", Caller{User: "o", GroupSIDs: []string{SIDServerOperators}}, ClassOperator},
		{"user SID is Administrators", Caller{User: "a", SID: SIDAdministrators}, ClassAdmin},
		{"Domain Users only", Caller{User: "u", SID: domain + "-1104", GroupSIDs: []string{domain + "-513"}}, ClassUser},
		{"RID 512 of a non-domain SID", Caller{User: "u", GroupSIDs: []string{"S-1-5-32-512", "S-1-5-21-1-2-512"}}, ClassUser},
		{"RID 5120", Caller{User: "u", GroupSIDs: []string{domain + "-5120"}}, ClassUser},
		{"malformed", Caller{User: "u", GroupSIDs: []string{"S-1-5-21-a-b-c-512", "S-1-5-21---512", "512", ""}}, ClassUser},
		{"anonymous with admin SID", Caller{Anonymous: true, User: "x", GroupSIDs: []string{SIDAdministrators}}, ClassAnonymous},
		{"guest with admin SID", Caller{Guest: true, User: "g", GroupSIDs: []string{domain + "-512"}}, ClassAdmin},
	}
	for _, tc := range tests {
		if got := ClassOf(tc.c); got != tc.want {
			t.Errorf("%s: ClassOf(%+v) = %v, want %v", tc.name, tc.c, got, tc.want)
		}
	}
}

func TestHasSID(t *testing.T) {
	c := Caller{User: "a", SID: "S-1-5-21-1-2-3-1000", GroupSIDs: []string{"S-1-5-32-545"}}
	for sid, want := range map[string]bool{"S-1-5-21-1-2-3-1000": true, "s-1-5-32-545": true, "S-1-5-32-544": false, "": false} {
		if got := c.HasSID(sid); got != want {
			t.Errorf("HasSID(%q) = %v, want %v", sid, got, want)
		}
	}
}

package main

import (
	"context"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	tests := []struct {
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStdout []string
	}{
		{nil, exitUsage, nil, []string{"Usage:", "demo"}, nil},
		{[]string{"help"}, exitOK, []string{"Commands:", "list", "get", "del", "serve", "demo", "version", "Exit codes", "130  interrupted"}, nil, nil},
		{[]string{"--help"}, exitOK, []string{"Commands:"}, nil, nil},
		{[]string{"help", "demo"}, exitOK, []string{"Usage: netsess demo", "--prefmaxlen", "Examples:", "Exit codes:"}, nil, nil},
		{[]string{"help", "nope"}, exitUsage, nil, []string{`unknown command "nope"`}, nil},
		{[]string{"bogus"}, exitUsage, nil, []string{`unknown command "bogus"`}, nil},
		{[]string{"version"}, exitOK, []string{"netsess " + develVersion}, nil, nil},
		{[]string{"version", "x"}, exitUsage, nil, []string{"takes no arguments"}, nil},
		{[]string{"version", "-h"}, exitOK, []string{"Usage: netsess version", "revision unknown"}, nil, nil},
		{[]string{"help", "version"}, exitOK, []string{"Usage: netsess version"}, nil, nil},
		{[]string{"--version"}, exitOK, []string{"netsess " + develVersion}, nil, nil},
		{[]string{"demo"}, exitOK, []string{
			"NetrSessionEnum level 0:", "NetrSessionEnum level 502:", "over SMB2/3 on 127.0.0.1:", `SMB logon as "administrator"`, "administrator  1      0:00:00", `\\10.0.0.5`, `\\[fe80::9]`, `\\192.168.7.20`,
			"guest,noencrypt", "2:13:00", "0:05:00", `\Device\NetbiosSmb`, "Windows 5.0",
		}, nil, nil},
		{[]string{"demo", "-cname", "bare", "-level", "0"}, exitOK, []string{"fe80::9\n", "10.0.0.5"}, nil, []string{`\\`}},
		{[]string{"demo", "-level", "10", "-as", "user"}, exitDenied, []string{"access denied (ERROR_ACCESS_DENIED, 5) at level 10"}, nil, nil},
		{[]string{"demo", "-level", "10", "-as", "user", "-policy", "legacy"}, exitOK, []string{"alice"}, nil, nil},
		{[]string{"demo", "-level", "1", "-prefmaxlen", "100"}, exitOK, []string{"6 entries in 6 calls of at most 100 bytes", "WKS7$", "nobody"}, nil, nil},
		{[]string{"demo", "-level", "1", "-user", "ALICE"}, exitOK, []string{"alice"}, nil, []string{"carol"}},
		{[]string{"demo", "-level", "1", "-client", "wkscarol"}, exitOK, []string{"carol"}, nil, []string{"alice"}},
		{[]string{"demo", "-level", "1", "-user", "mallory"}, exitOK, []string{"(no sessions)"}, nil, nil}, // a qualifier that matches nothing is an empty list
		{[]string{"demo", "-level", "3"}, exitUsage, nil, []string{`"3" is not a level`}, nil},
		{[]string{"demo", "-as", "root"}, exitUsage, nil, []string{"--as: want admin"}, nil},
		{[]string{"demo", "--as", "anonymous", "--level", "0"}, exitDenied, []string{"SMB null session", "access denied (ERROR_ACCESS_DENIED, 5) at level 0"}, nil, nil},
		{[]string{"demo", "-as", "anonymous", "-policy", "open", "-level", "0"}, exitOK, []string{`\\WKSCAROL`}, nil, nil},
		{[]string{"demo", "-transport", "tcp", "-as", "anonymous", "-level", "0"}, exitDenied, []string{"no logon (anonymous bind)", "access denied (ERROR_ACCESS_DENIED, 5) at level 0"}, nil, nil},
		{[]string{"demo", "-transport", "tcp", "-level", "10"}, exitOK, []string{`NTLMSSP logon as "administrator", auth level integrity`, "alice", "Serving 5 sessions"}, nil, []string{"administrator  "}},
		{[]string{"demo", "-as", "guest", "-policy", "open", "-level", "1"}, exitOK, []string{`SMB logon as "visitor"`, "Guest   1      0:00:00      0:00:00  guest"}, nil, nil},
		{[]string{"demo", "-transport", "udp"}, exitUsage, nil, []string{"--transport: want smb or tcp"}, nil},
		{[]string{"demo", "-transport", "tcp", "-as", "guest", "-policy", "open", "-level", "10", "-spnego"}, exitOK, []string{`SPNEGO/NTLMSSP logon as "visitor", auth level connect`, "nobody"}, nil, nil},
		{[]string{"demo", "-transport", "tcp", "-as", "operator", "-auth", "privacy", "-level", "502", "-user", "alice"}, exitOK, []string{"auth level privacy", `\Device\NetbiosSmb`}, nil, []string{"carol"}},
		{[]string{"demo", "-auth", "none"}, exitUsage, nil, []string{"--auth: want integrity or privacy"}, nil},
		{[]string{"demo", "-policy", "strict"}, exitUsage, nil, []string{"--policy:"}, nil},
		{[]string{"demo", "-cname", "odd"}, exitUsage, nil, []string{"--cname: want windows or bare"}, nil},
		{[]string{"demo", "extra"}, exitUsage, nil, []string{`unexpected argument "extra"`}, nil},
		{[]string{"demo", "-nosuchflag"}, exitUsage, nil, []string{"unknown flag -nosuchflag\nsee 'netsess demo --help'"}, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.notStdout {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
}

// -h prints the help once, on stdout, for every command; an unknown flag
// prints the error and a pointer to --help on stderr, not the help.
func TestHelpOnce(t *testing.T) {
	for _, c := range newApp(osEnv).Commands {
		code, out, errOut := runCLI(t, c.Name, "-h")
		if code != exitOK || strings.Count(out, "Usage:") != 1 || errOut != "" {
			t.Errorf("%s -h: exit %d, %d usages on stdout, stderr %q", c.Name, code, strings.Count(out, "Usage:"), errOut)
		}
		code, out, errOut = runCLI(t, c.Name, "--no-such-flag")
		want := "netsess " + c.Name + ": unknown flag --no-such-flag\nsee 'netsess " + c.Name + " --help'\n"
		if code != exitUsage || out != "" || errOut != want {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q, want %q", c.Name, code, out, errOut, want)
		}
	}
}

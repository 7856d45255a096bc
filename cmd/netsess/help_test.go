package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netsession/netsession/internal/cli"
)

// helpOf runs "netsess help CMD".
func helpOf(t *testing.T, cmd string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "help", cmd)
	if code != exitOK {
		t.Fatalf("help %s: %d %s", cmd, code, errOut)
	}
	return out
}

// exitCodeFor finds the exit code the help gives for a line that
// contains phrase.
func exitCodeFor(t *testing.T, help, phrase string) int {
	t.Helper()
	_, codes, ok := strings.Cut(help, "\nExit codes:\n")
	if !ok {
		t.Fatalf("no exit codes in:\n%s", help)
	}
	code := -1
	for line := range strings.Lines(codes) {
		if m := regexp.MustCompile(`^  (\d+) `).FindStringSubmatch(line); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
		if strings.Contains(line, phrase) {
			return code
		}
	}
	t.Fatalf("no exit code line with %q in:\n%s", phrase, codes)
	return -1
}

// The help texts say what the program does.
func TestHelpMatchesBehaviour(t *testing.T) {
	srv := startCLServer(t, "", nil)
	ctx := context.Background()
	// get and del: the exit code the help gives for no match is the one
	// they exit with.
	for _, cmd := range []string{"get", "del"} {
		want := exitCodeFor(t, helpOf(t, cmd), "no session matches")
		code, _, errOut := runClient(t, ctx, cmd, clEnv(nil, nil), srv.addr, aliceU, "--client", "10.9.9.9", "--user", "nobody")
		if code != want {
			t.Errorf("%s with no match: exit %d, help says %d (%s)", cmd, code, want, errOut)
		}
	}
	// list: a filtered list that matches nothing is success.
	want := exitCodeFor(t, helpOf(t, "list"), "filtered list that matches nothing")
	if code, _, _ := runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, aliceU, "--user", "nobody"); code != want {
		t.Errorf("list with no match: exit %d, help says %d", code, want)
	}
	// del has no --csv, and says so by refusing it as unknown.
	if h := helpOf(t, "del"); strings.Contains(h, "--csv") {
		t.Errorf("del help lists --csv:\n%s", h)
	}
	if code, _, errOut := runClient(t, ctx, "del", clEnv(nil, nil), srv.addr, aliceU, "--user", "x", "--csv"); code != exitUsage || !strings.Contains(errOut, "unknown flag --csv") {
		t.Errorf("del --csv: %d %s", code, errOut)
	}
	// The top-level help describes serve with --smb.
	_, top, _ := runCLI(t, "help")
	if !regexp.MustCompile(`(?m)^  serve .*--smb`).MatchString(top) {
		t.Errorf("top-level help does not describe serve --smb:\n%s", top)
	}
	// demo: no doubled backslashes, exit codes listed, and the exit code
	// of a denial is list's.
	demo := helpOf(t, "demo")
	if strings.Contains(demo, `\\PIPE`) || !strings.Contains(demo, `\PIPE\srvsvc`) || !strings.Contains(demo, "Exit codes:") {
		t.Errorf("demo help:\n%s", demo)
	}
	demoCode, _, _ := runCLI(t, "demo", "--as", "anonymous", "--level", "0")
	listCode, _, _ := runClient(t, ctx, "list", clEnv(nil, nil), srv.addr, "--anonymous", "--level", "0")
	if demoCode != listCode || demoCode != exitCodeFor(t, demo, "access denied") {
		t.Errorf("demo --as anonymous exits %d, list --anonymous %d, demo's help says %d", demoCode, listCode, exitCodeFor(t, demo, "access denied"))
	}
	// version: help and -h.
	for _, args := range [][]string{{"help", "version"}, {"version", "-h"}, {"version", "--help"}} {
		if code, out, _ := runCLI(t, args...); code != exitOK || !strings.Contains(out, "Usage: netsess version") {
			t.Errorf("%v: %d %s", args, code, out)
		}
	}
	// No help prints a long flag with one dash.
	for _, c := range newApp(osEnv).Commands {
		if m := regexp.MustCompile(`(?m)^\s+-[a-z][a-z-]+`).FindString(helpOf(t, c.Name)); m != "" {
			t.Errorf("%s help prints %q", c.Name, m)
		}
	}
}

// Every netsess command line in the README uses flags the command has,
// spelt as the help spells them.
func TestReadmeFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(osEnv)
	n := 0
	for _, m := range regexp.MustCompile("netsess ([a-z]+)((?: +[^ `|\n]+)*)").FindAllStringSubmatch(string(b), -1) {
		c := app.Find(m[1])
		if c == nil {
			continue
		}
		flags := cli.FlagsOf(c)
		for _, w := range strings.Fields(m[2]) {
			if !strings.HasPrefix(w, "-") || w == "-" {
				continue
			}
			name := strings.SplitN(strings.TrimLeft(strings.TrimRight(w, "'\".,;:)"), "-"), "=", 2)[0]
			if name == "help" || name == "h" {
				continue // every command has it
			}
			var f *cli.Flag
			for _, x := range flags {
				if x.Name == name || x.Short == name {
					f = x
				}
			}
			n++
			switch {
			case f == nil:
				t.Errorf("README: netsess %s has no flag %s (%q)", m[1], w, m[0])
			case len(name) > 1 && !strings.HasPrefix(w, "--"):
				t.Errorf("README writes %s where the help writes --%s (%q)", w, name, m[0])
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d flags found in the README", n)
	}
}

// Completion and the man page come from the flag definitions: every
// flag of every command is in each.
func TestCompletionAndMan(t *testing.T) {
	app := newApp(osEnv)
	outputs := map[string]string{}
	for _, args := range [][]string{{"completion", "bash"}, {"completion", "zsh"}, {"completion", "fish"}, {"man"}} {
		code, out, errOut := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		outputs[strings.Join(args, " ")] = out
	}
	for _, c := range app.Commands {
		for _, f := range cli.FlagsOf(c) {
			for what, out := range outputs {
				var want string
				switch {
				case f.Name == "":
					want = map[bool]string{true: `\-` + f.Short, false: "-" + f.Short}[what == "man"]
				case what == "man":
					want = `\-\-` + strings.ReplaceAll(f.Name, "-", `\-`)
				case what == "completion fish":
					want = "-l " + f.Name
				default:
					want = "--" + f.Name
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %s %s", what, c.Name, want)
				}
			}
		}
	}
	// The subcommands (history's summary, events and import) are offered
	// in every shell, and import is followed by a file.
	subs := 0
	for _, c := range app.Commands {
		for _, sc := range c.Subcommands {
			subs++
			for what, want := range map[string]string{
				"completion bash": "compgen -W '" + strings.Join(subcommandNames(c), " ") + " --",
				"completion zsh":  sc.Name + `\:`,
				"completion fish": "__fish_seen_subcommand_from " + c.Name + "; and not __fish_seen_subcommand_from " + strings.Join(subcommandNames(c), " ") + "' -a " + sc.Name + " -d",
			} {
				if !strings.Contains(outputs[what], want) {
					t.Errorf("%s lacks %s %s (%q)", what, c.Name, sc.Name, want)
				}
			}
		}
	}
	if h := app.Find("history"); subs < 3 || h == nil || !slices.Equal(subcommandNames(h), []string{"summary", "events", "import"}) {
		t.Errorf("history's subcommands are not declared: %d in all", subs)
	}
	if !strings.Contains(outputs["completion zsh"], "'2:file:_files'") || !strings.Contains(outputs["completion fish"], "__fish_seen_subcommand_from import' -F") {
		t.Errorf("no file completion after history import")
	}
	if _, err := exec.LookPath("bash"); err == nil {
		// What bash offers after "netsess history", "netsess history
		// e" and "netsess history import".
		for line, want := range map[string][]string{
			"history ":         {"summary", "events", "import", "--db", "--user"},
			"history e":        {"events"},
			"history --utc su": {"summary"},
		} {
			words := strings.Fields(line)
			script := outputs["completion bash"] + "\nCOMP_WORDS=(netsess " + line + ")\n"
			if strings.HasSuffix(line, " ") {
				script += "COMP_WORDS+=('')\n"
			}
			script += "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n_netsess\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command("bash", "--norc", "--noprofile")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			got := strings.Fields(string(out))
			for _, w := range want {
				if err != nil || !slices.Contains(got, w) {
					t.Errorf("bash after %q (%d words) offers %q, lacks %s (%v)", line, len(words), got, w, err)
				}
			}
			if len(words) > 1 && !strings.HasSuffix(line, " ") {
				for _, g := range got {
					if !strings.HasPrefix(g, words[len(words)-1]) {
						t.Errorf("bash after %q offers %q", line, g)
					}
				}
			}
		}
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(outputs["completion bash"])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v %s", err, out)
		}
	}
	if _, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(outputs["man"])
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff: %v %s", err, out)
		}
	}
}

// The systemd unit starts serve with flags serve has, and is hardened.
func TestSystemdUnit(t *testing.T) {
	keys := checkUnit(t, "../../packaging/netsess-serve.service", "serve", func(fs *cli.FlagSet) { defineServe(fs) })
	for k, want := range map[string]string{
		"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
	} {
		if len(keys[k]) != 1 || keys[k][0] != want {
			t.Errorf("%s=%v, want %s", k, keys[k], want)
		}
	}
}

// checkUnit checks a unit of the packaging directory: hardened, its
// ExecStart runs the command cmd (whose flags define declares) with flags
// it accepts, and systemd-analyze verify finds nothing to say. It returns
// the unit's keys.
func checkUnit(t *testing.T, path, cmd string, define func(fs *cli.FlagSet)) map[string][]string {
	t.Helper()
	unit, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for line := range strings.Lines(string(unit)) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"MemoryDenyWriteExecute": "yes", "RestrictNamespaces": "yes",
	} {
		if len(keys[k]) != 1 || keys[k][0] != want {
			t.Errorf("%s=%v, want %s", k, keys[k], want)
		}
	}
	exec0 := strings.Fields(keys["ExecStart"][0])
	if exec0[0] != "/usr/local/bin/netsess" || exec0[1] != cmd {
		t.Fatalf("ExecStart %v", exec0)
	}
	fs := cli.NewFlagSet()
	define(fs)
	line := strings.Join(exec0[2:], " ")
	for _, dir := range []string{"CREDENTIALS", "STATE", "LOGS"} {
		line = strings.ReplaceAll(line, "${"+dir+"_DIRECTORY}", "/run/"+strings.ToLower(dir)+"/netsess")
	}
	args := strings.Fields(line)
	if pos, err := fs.Parse(args); err != nil || len(pos) > 0 {
		t.Errorf("%s refuses the unit's flags %v: %v %v", cmd, args, err, pos)
	}
	if cmd == "serve" && fs.Lookup("users").Value.String() == "" {
		t.Error("the unit serves the demo accounts")
	}
	// systemd's own check, with the binary path replaced by one that
	// exists.
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		self, _ := os.Executable()
		fixed := strings.ReplaceAll(string(unit), "/usr/local/bin/netsess", self)
		fixed = regexp.MustCompile(`(?m)^Documentation=.*\n`).ReplaceAllString(fixed, "")
		p := filepath.Join(dir, filepath.Base(path))
		os.WriteFile(p, []byte(fixed), 0o644)
		var out bytes.Buffer
		c := exec.Command("systemd-analyze", "verify", p)
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil || out.Len() > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out.String())
		}
	}
	return keys
}

// subcommandNames returns the names of c's subcommands.
func subcommandNames(c *cli.Command) []string {
	var out []string
	for _, sc := range c.Subcommands {
		out = append(out, sc.Name)
	}
	return out
}

package main

import (
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	bi := func(main string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/netsession/netsession", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi("v1.2.3"), "v1.2.3 (go1.26.8, revision unknown)"}, // go install ...@v1.2.3
		{bi("(devel)"), develVersion + " (go1.26.8, revision unknown)"},
		{bi("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), develVersion + " (go1.26.8, revision 0123456789ab with local changes)"},
		{nil, develVersion + " (no build information)"},
	} {
		if got := versionString(tc.bi); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// buildNetsess builds the command with extra go build flags into dir.
func buildNetsess(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "netsess")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
	return bin
}

func versionOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v %s", bin, err, out)
	}
	return strings.TrimSpace(string(out))
}

// What "netsess version" prints for binaries built the ways people build
// them.
func TestVersionBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	dir := t.TempDir()
	unstamped := versionOf(t, buildNetsess(t, dir, nil, "-buildvcs=false"))
	if !regexp.MustCompile(`^netsess 0\.1\.0-dev \(go[0-9.]+[^,]*, revision unknown\)$`).MatchString(unstamped) {
		t.Errorf("-buildvcs=false: %q", unstamped)
	}
	x := versionOf(t, buildNetsess(t, dir, nil, "-buildvcs=false", "-ldflags", "-X main.version=v7.7.7"))
	if !strings.HasPrefix(x, "netsess v7.7.7 (") {
		t.Errorf("-X main.version: %q", x)
	}
	// A default build stamps the revision of the repository it is built
	// in. The go command finds a repository by its .git directory (not
	// the .git file of a linked worktree), so the build runs in a fresh
	// clone of this one's HEAD.
	if _, err := exec.LookPath("git"); err != nil {
		t.Log("no git: the stamped build is not checked")
		return
	}
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", "../..", clone).CombinedOutput(); err != nil {
		t.Logf("not in a git checkout (%v: %s): the stamped build is not checked", err, out)
		return
	}
	rev, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "stamped"), "./cmd/netsess")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto") // the default, whatever go env sets
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	stamped := versionOf(t, filepath.Join(dir, "stamped"))
	if !strings.Contains(stamped, "revision "+string(rev[:12])+")") {
		t.Errorf("default build: %q, want revision %s", stamped, rev[:12])
	}
}

// A "go install ...@vX" build reports vX: the module is served at v0.9.0
// from a file proxy (its dependencies from the module cache) and installed.
func TestVersionGoInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	const mod, ver = "github.com/netsession/netsession", "v0.9.0"
	proxy := t.TempDir()
	vdir := filepath.Join(proxy, mod, "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(vdir, ver+".mod"), gomod, 0o644)
	os.WriteFile(filepath.Join(vdir, ver+".info"), []byte(`{"Version":"`+ver+`","Time":"2026-01-01T00:00:00Z"}`), 0o644)
	os.WriteFile(filepath.Join(vdir, "list"), []byte(ver+"\n"), 0o644)
	zf, err := os.Create(filepath.Join(vdir, ver+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir // the repository and nested modules
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		w, err := zw.Create(mod + "@" + ver + "/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	bin := t.TempDir()
	cmd := exec.Command("go", "install", mod+"/cmd/netsess@"+ver)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=",
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	got := versionOf(t, filepath.Join(bin, "netsess"))
	if !strings.HasPrefix(got, "netsess "+ver+" (") || !strings.Contains(got, "revision unknown") {
		t.Errorf("go install @%s: %q", ver, got)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

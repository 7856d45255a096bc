package addc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netsession/netsession/internal/sambapeer"
)

// HostsLockFile is the name, in os.TempDir(), of the file lock every
// harness takes while it edits /etc/hosts.
const HostsLockFile = "netsession-etc-hosts.lock"

const hostsFile = "/etc/hosts"

func hostsTag(slot int) string { return fmt.Sprintf("# netsession-addc-slot%d", slot) }

// addHosts replaces the lines of slot in /etc/hosts with lines.
func addHosts(ctx context.Context, slot int, lines []string) error {
	return editHosts(ctx, slot, lines)
}

// removeHosts removes the lines of slot from /etc/hosts.
func removeHosts(ctx context.Context, slot int) error {
	return editHosts(ctx, slot, nil)
}

// editHosts rewrites /etc/hosts in place (it may be a bind mount, which a
// rename would not replace) under the machine-wide lock: the lines tagged
// with slot's tag are dropped and add appended with that tag.
func editHosts(ctx context.Context, slot int, add []string) error {
	lock, err := sambapeer.LockFile(ctx, filepath.Join(os.TempDir(), HostsLockFile))
	if err != nil {
		return err
	}
	defer lock.Close()
	b, err := os.ReadFile(hostsFile)
	if err != nil {
		return err
	}
	tag := hostsTag(slot)
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		if strings.HasSuffix(strings.TrimRight(line, "\n"), tag) {
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	for _, l := range add {
		out.WriteString(l + " " + tag + "\n")
	}
	if out.String() == string(b) {
		return nil
	}
	f, err := os.OpenFile(hostsFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(out.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/history"
	"github.com/netsession/netsession/scan"
)

// defaultBloodHoundWindow is --bloodhound-window's default: a day of
// sessions, what a daily BloodHound import wants.
const defaultBloodHoundWindow = 24 * time.Hour

// historyBloodHound writes the BloodHound computers file of a window of
// the history after each round of watch: the sessions seen within the
// window, each server's outcome from the round, names resolved through a
// directory connection of its own for each write (a long watch outlives
// the DC's idle timeout, and a fresh resolver sees accounts created since).
// The files of the previous write are replaced.
type historyBloodHound struct {
	ld     *ldapFlags
	cred   client.Credentials
	opts   client.Options
	ccache string
	// comps gives the directory's computer of each target that came from
	// it (properties of the node).
	comps  map[string]*directory.Computer
	dir    string
	window time.Duration
	store  history.Store
	now    func() time.Time

	prevJSON, prevZip string
}

// checkBloodHoundDir refuses a --bloodhound DIR that is not a directory before
// the first round.
func checkBloodHoundDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--bloodhound: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--bloodhound: %s is not a directory", dir)
	}
	return nil
}

// write makes the computers file of the window ending now, with the
// outcomes of last (the round's results), and returns its report.
func (h *historyBloodHound) write(ctx context.Context, last []*scan.Result) (bloodhound.Report, directory.Stats, error) {
	cfg, err := h.ld.config(h.cred, h.opts, h.ccache)
	if err != nil {
		return bloodhound.Report{}, directory.Stats{}, err
	}
	conn, err := directory.Dial(ctx, cfg)
	if err != nil {
		return bloodhound.Report{}, directory.Stats{}, err
	}
	defer conn.Close()
	res := directory.NewResolver(conn, h.ld.resolverConfig(h.cred))
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	bh, err := bloodhound.FromHistory(ctx, h.store, res, h.comps, last, now().Add(-h.window), time.Time{},
		bloodhound.Options{CollectorVersion: "netsess " + versionString(buildInfo()), Domain: conn.Domain(), Now: h.now})
	if err != nil {
		return bloodhound.Report{}, directory.Stats{}, err
	}
	jsonPath, zipPath, err := bh.WriteDir(h.dir)
	if err != nil {
		return bloodhound.Report{}, directory.Stats{}, err
	}
	for _, p := range []string{h.prevJSON, h.prevZip} {
		if p != "" && p != jsonPath && p != zipPath {
			os.Remove(p)
		}
	}
	h.prevJSON, h.prevZip = jsonPath, zipPath
	return bh.Report(), res.Stats(), nil
}

// historyBloodHoundLine is the line on stderr after a write.
func historyBloodHoundLine(w io.Writer, cmd string, rep bloodhound.Report, st directory.Stats, dir string) {
	fmt.Fprintf(w, "netsess %s: BloodHound (%s): %d computers, %d session pairs, %d unresolved, %d of hosts not collected withheld\n",
		cmd, dir, rep.Hosts, rep.Pairs, st.UnresolvedUsers+st.UnresolvedClients, rep.Withheld)
}

// bloodHoundWriteText is the message of a failed write: the directory's
// failures as scan words them, the others as they are.
func bloodHoundWriteText(err error) string {
	if errors.Is(err, directory.ErrConnect) || errors.Is(err, directory.ErrBind) || errors.Is(err, directory.ErrSearch) ||
		errors.Is(err, directory.ErrConfig) {
		return directoryText(err)
	}
	return userText(err)
}

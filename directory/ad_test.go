//go:debug x509negativeserial=1

package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netsession/netsession/bloodhound"
	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/directory"
	"github.com/netsession/netsession/fleet"
	"github.com/netsession/netsession/internal/addc"
	"github.com/netsession/netsession/scan"
)

func TestMain(m *testing.M) { os.Exit(addc.Main(m)) }

// domain is the test domain with computers for a simulated fleet.
type domain struct {
	dc    *addc.DC
	fleet *fleet.Fleet
	// hosts maps a fleet host's computer name (NSWSn) to the host.
	hosts map[string]*fleet.Host
	// clients maps the IPv4 clients given a computer account and a PTR
	// record to that computer's name (NSCLn).
	clients map[string]string
	// missingUser is a fleet user with no domain account, users the
	// others.
	missingUser string
	users       []string
}

func (d *domain) tool(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := d.dc.SambaTool(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (d *domain) admin() []string {
	return []string{"-U", "Administrator%" + addc.AdministratorPassword}
}

// sid is samba-tool's own answer for account (NAME$ for a computer).
func (d *domain) sid(t *testing.T, account string) string {
	t.Helper()
	s, err := d.dc.UserSID(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(s)
}

// setupDomain starts a fleet on loopback addresses of its own (normal,
// normal, samba, denied, hang), adds a computer account with a DNS record
// for each host, a stale one, a disabled one and one without a DNS name,
// creates the users of the fleet's sessions (all but one), and gives the
// IPv4 clients computer accounts and PTR records in a new reverse zone.
func setupDomain(t *testing.T) *domain {
	t.Helper()
	dc := addc.Shared(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base := netip.AddrFrom4([4]byte{127, 1, byte(170 + dc.Slot), 1})
	f, err := fleet.Start(ctx, fleet.Config{
		Hosts:       5,
		Behaviors:   []fleet.Behavior{fleet.Normal, fleet.Normal, fleet.Samba, fleet.Denied, fleet.Hang},
		Seed:        17,
		MaxSessions: 4,
		Base:        base,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := &domain{dc: dc, fleet: f, hosts: map[string]*fleet.Host{}, clients: map[string]string{}}
	now := time.Now()
	recent := directory.FormatFileTime(now.Add(-24 * time.Hour))
	for i, h := range f.Hosts {
		name := fmt.Sprintf("NSWS%d", i)
		d.hosts[name] = h
		d.tool(t, append([]string{"computer", "add", name, "--ip-address=" + h.Addr.String(), "--prepare-oldjoin",
			"--computerou=CN=Computers"}, d.admin()...)...)
		if err := dc.SetAttribute(ctx, "computer", name, "lastLogonTimestamp", recent); err != nil {
			t.Fatal(err)
		}
		if err := dc.SetAttribute(ctx, "computer", name, "operatingSystem", "Windows Server 2022 Standard"); err != nil {
			t.Fatal(err)
		}
	}
	d.tool(t, append([]string{"computer", "add", "NSOLD", "--ip-address=127.1.250.1", "--prepare-oldjoin"}, d.admin()...)...)
	if err := dc.SetAttribute(ctx, "computer", "NSOLD", "lastLogonTimestamp",
		directory.FormatFileTime(now.Add(-200*24*time.Hour))); err != nil {
		t.Fatal(err)
	}
	d.tool(t, append([]string{"computer", "add", "NSOFF", "--ip-address=127.1.250.2"}, d.admin()...)...)
	d.tool(t, "computer", "add", "NSNODNS", "--prepare-oldjoin")
	for _, name := range []string{"NSOFF", "NSNODNS"} {
		if err := dc.SetAttribute(ctx, "computer", name, "lastLogonTimestamp", recent); err != nil {
			t.Fatal(err)
		}
	}
	if err := dc.SetAttribute(ctx, "computer", "NSNODNS", "operatingSystem", "Windows 11 Enterprise"); err != nil {
		t.Fatal(err)
	}

	names, v4 := f.Accounts()
	if len(names) < 2 || len(v4) == 0 {
		t.Fatalf("fleet too small for the test: users %v, IPv4 clients %v", names, v4)
	}
	d.missingUser, d.users = names[0], names[1:]
	for _, u := range names[1:] {
		d.tool(t, "user", "create", u, "Pw-"+u+"-1x!")
	}
	for i, c := range v4 {
		name := fmt.Sprintf("NSCL%d", i)
		d.clients[c] = name
		if err := dc.AddClient(ctx, name, netip.MustParseAddr(c)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *domain) config(sec directory.Security, bind directory.BindMethod) directory.Config {
	return directory.Config{
		Server:     d.dc.Addr,
		ServerName: d.dc.Host,
		Security:   sec,
		CAFile:     d.dc.CAFile(),
		Bind:       bind,
		User:       addc.User,
		Domain:     d.dc.Domain,
		Password:   addc.UserPassword,
		PageSize:   2,
	}
}

// lookupVia resolves names with the DC's DNS.
func lookupVia(server string) func(ctx context.Context, host string) ([]netip.Addr, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, net.JoinHostPort(server, "53"))
	}}
	return func(ctx context.Context, host string) ([]netip.Addr, error) {
		return r.LookupNetIP(ctx, "ip4", host)
	}
}

func TestDomainDiscoveryScanResolve(t *testing.T) {
	d := setupDomain(t)
	ctx := context.Background()

	t.Run("binds", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cfg  func() directory.Config
			want error
		}{
			{"ntlm-sealed", func() directory.Config { return d.config(directory.Sealed, directory.BindNTLM) }, nil},
			{"ntlm-sealed-upn", func() directory.Config {
				c := d.config(directory.Sealed, directory.BindNTLM)
				c.User, c.Domain = addc.User+"@"+d.dc.DNSDomain, ""
				return c
			}, nil},
			// Samba, with its default "ldap server require strong auth",
			// refuses SASL binds inside TLS (Windows takes them).
			{"ntlm-starttls-refused-by-samba", func() directory.Config { return d.config(directory.StartTLS, directory.BindNTLM) }, directory.ErrBind},
			{"sealed-simple-is-config-error", func() directory.Config { return d.config(directory.Sealed, directory.BindSimple) }, directory.ErrConfig},
			{"simple-ldaps", func() directory.Config { return d.config(directory.LDAPS, directory.BindSimple) }, nil},
			{"simple-starttls-upn", func() directory.Config {
				c := d.config(directory.StartTLS, directory.BindSimple)
				c.User = addc.User + "@" + d.dc.DNSDomain
				return c
			}, nil},
			{"insecure", func() directory.Config {
				c := d.config(directory.LDAPS, directory.BindSimple)
				c.CAFile, c.Insecure = "", true
				return c
			}, nil},
			{"unknown-ca", func() directory.Config {
				c := d.config(directory.LDAPS, directory.BindSimple)
				c.CAFile = ""
				return c
			}, directory.ErrConnect},
			{"wrong-name", func() directory.Config {
				c := d.config(directory.StartTLS, directory.BindSimple)
				c.ServerName = "other." + d.dc.DNSDomain
				return c
			}, directory.ErrConnect},
			{"wrong-password", func() directory.Config {
				c := d.config(directory.Sealed, directory.BindNTLM)
				c.Password = "nope"
				return c
			}, directory.ErrBind},
			{"simple-wrong-password", func() directory.Config {
				c := d.config(directory.LDAPS, directory.BindSimple)
				c.Password = "nope"
				return c
			}, directory.ErrBind},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, err := directory.Dial(ctx, tc.cfg())
				if tc.want != nil {
					if !errors.Is(err, tc.want) {
						t.Fatalf("Dial: %v, want %v", err, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				dom := c.Domain()
				if dom.SID != strings.ToUpper(d.dc.DomainSID) || dom.NetBIOSName != d.dc.Domain || dom.DNSName != d.dc.DNSDomain {
					t.Errorf("domain %+v, want SID %s, %s, %s", dom, d.dc.DomainSID, d.dc.Domain, d.dc.DNSDomain)
				}
			})
		}
	})

	conn, err := directory.Dial(ctx, d.config(directory.Sealed, directory.BindNTLM))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	t.Run("filters", func(t *testing.T) {
		before := conn.Pages()
		all, err := conn.Computers(ctx, directory.Query{IncludeDisabled: true})
		if err != nil {
			t.Fatal(err)
		}
		// DC, SRV, 5 fleet hosts, NSOLD, NSOFF, NSNODNS, the clients.
		wantSeen := 2 + 5 + 3 + len(d.clients)
		if all.Seen != wantSeen {
			t.Errorf("seen %d computers, want %d", all.Seen, wantSeen)
		}
		if pages := conn.Pages() - before; pages < int64(wantSeen/2) {
			t.Errorf("%d pages for %d objects at page size 2: not paged", pages, wantSeen)
		}
		if n := all.Count(directory.ExcludedNoDNSName); n < 1 || !excluded(all, "NSNODNS", directory.ExcludedNoDNSName) {
			t.Errorf("NSNODNS not reported as without DNS name: %+v", all.Excluded)
		}

		q := directory.Query{ActiveDays: 30, OS: "*server 2022*", DCs: directory.ExcludeDCs}
		got, err := conn.Computers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range got.Targets {
			names = append(names, c.Name)
			h := d.hosts[c.Name]
			if h == nil {
				continue
			}
			if c.SID != d.sid(t, c.Name+"$") {
				t.Errorf("%s: SID %s, samba-tool says %s", c.Name, c.SID, d.sid(t, c.Name+"$"))
			}
			if want := strings.ToLower(c.Name) + "." + d.dc.DNSDomain; c.DNSHostName != want || !c.Enabled || c.IsDC {
				t.Errorf("%s: %+v", c.Name, c)
			}
			if time.Since(c.LastLogon) > 25*time.Hour || time.Since(c.LastLogon) < 23*time.Hour {
				t.Errorf("%s: lastLogonTimestamp %v", c.Name, c.LastLogon)
			}
		}
		slices.Sort(names)
		if want := []string{"NSWS0", "NSWS1", "NSWS2", "NSWS3", "NSWS4"}; !slices.Equal(names, want) {
			t.Errorf("targets %v, want %v", names, want)
		}
		for name, reason := range map[string]directory.Exclusion{
			"NSOLD": directory.ExcludedOS, "NSOFF": directory.ExcludedDisabled, "DC": directory.ExcludedDC,
		} {
			if !excluded(got, name, reason) {
				t.Errorf("%s not excluded as %s: %+v", name, reason, got.Excluded)
			}
		}
		// Without the OS filter the stale one is stale.
		got, err = conn.Computers(ctx, directory.Query{ActiveDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		if !excluded(got, "NSOLD", directory.ExcludedStale) || !excluded(got, "NSOFF", directory.ExcludedDisabled) {
			t.Errorf("stale/disabled not excluded: %+v", got.Excluded)
		}
		dcs, err := conn.Computers(ctx, directory.Query{DCs: directory.OnlyDCs})
		if err != nil {
			t.Fatal(err)
		}
		if len(dcs.Targets) != 1 || dcs.Targets[0].Name != "DC" || !dcs.Targets[0].IsDC {
			t.Errorf("only DCs: %+v", dcs.Targets)
		}
		ou, err := conn.Computers(ctx, directory.Query{SearchBase: "OU=Domain Controllers," + conn.Domain().BaseDN})
		if err != nil {
			t.Fatal(err)
		}
		if ou.Seen != 1 {
			t.Errorf("search base: %d computers, want 1", ou.Seen)
		}
	})

	t.Run("scan-and-resolve", func(t *testing.T) {
		disc, err := conn.Computers(ctx, directory.Query{ActiveDays: 30, OS: "Server 2022"})
		if err != nil {
			t.Fatal(err)
		}
		targets, comps := disc.ScanTargets(d.fleet.Port)
		sc, err := scan.New(scan.Config{
			Client:      client.Options{Credentials: client.Credentials{User: fleet.ScanUser, Password: fleet.ScanPassword, Domain: fleet.Domain}},
			Level:       scan.AutoLevel,
			HostTimeout: 3 * time.Second,
			Lookup:      lookupVia(d.dc.Addr),
		})
		if err != nil {
			t.Fatal(err)
		}
		res := directory.NewResolver(conn, directory.ResolverConfig{Collector: fleet.Domain + `\` + fleet.ScanUser,
			Reverse: directory.ReverseVia(d.dc.Addr)})
		var hosts []*directory.Host
		if _, err := sc.Run(ctx, scan.SliceSource(targets), func(r *scan.Result) {
			hosts = append(hosts, res.Resolve(ctx, r, comps[r.Target]))
		}); err != nil {
			t.Fatal(err)
		}
		if len(hosts) != 5 {
			t.Fatalf("%d results", len(hosts))
		}
		var wantUnresolvedUser, wantUnresolvedClient, resolved int
		for _, h := range hosts {
			name := h.Computer.Name
			fh := d.hosts[name]
			if h.SID != d.sid(t, name+"$") {
				t.Errorf("%s: host SID %s", name, h.SID)
			}
			exp := fleet.Expect(fh.Behavior)
			if h.Result.Collected != exp.Collected || (!exp.Collected && h.Result.Reason() != exp.Reason) {
				t.Errorf("%s (%s): collected %v reason %s, want %+v", name, fh.Behavior, h.Result.Collected, h.Result.Reason(), exp)
			}
			if !h.Result.Collected {
				continue
			}
			for _, s := range h.Sessions {
				if s.Raw.ClientName == "" && s.Raw.UserName == "" {
					t.Errorf("%s: raw names lost: %+v", name, s)
				}
				switch {
				case strings.HasSuffix(s.Raw.UserName, "$"):
					if s.Skip != directory.SkipMachineAccount {
						t.Errorf("%s: machine account %s not skipped", name, s.Raw.UserName)
					}
					continue
				case strings.EqualFold(s.User.Name, fleet.ScanUser):
					if s.Skip != directory.SkipCollector {
						t.Errorf("%s: collector's session not skipped: %+v", name, s)
					}
					continue
				}
				if s.Skip != directory.SkipNone {
					t.Errorf("%s: session %s from %s skipped as %s", name, s.Raw.UserName, s.Raw.ClientName, s.Skip)
					continue
				}
				if s.User.Name == d.missingUser {
					wantUnresolvedUser++
					if !errors.Is(s.UserErr, directory.ErrNotFound) || s.UserSID != "" {
						t.Errorf("%s: missing user %s: %q %v", name, s.User.Name, s.UserSID, s.UserErr)
					}
				} else if want := d.sid(t, s.User.Name); s.UserSID != want {
					t.Errorf("%s: user %s SID %s, samba-tool says %s (%v)", name, s.User.Name, s.UserSID, want, s.UserErr)
				}
				if cl, ok := d.clients[s.Client.Host]; ok {
					if want := d.sid(t, cl+"$"); s.ComputerSID != want {
						t.Errorf("%s: client %s SID %s, samba-tool says %s for %s (%v)", name, s.Raw.ClientName, s.ComputerSID, want, cl, s.ClientErr)
					}
				} else {
					wantUnresolvedClient++
					if s.ComputerSID != "" || s.ClientErr == nil {
						t.Errorf("%s: client %s resolved to %q", name, s.Raw.ClientName, s.ComputerSID)
					}
				}
				if s.Resolved() {
					resolved++
				}
			}
		}
		st := res.Stats()
		if st.UnresolvedUsers != wantUnresolvedUser || st.UnresolvedClients != wantUnresolvedClient || st.Resolved != resolved {
			t.Errorf("stats %+v, want %d unresolved users, %d unresolved clients, %d resolved", st, wantUnresolvedUser, wantUnresolvedClient, resolved)
		}
		if resolved == 0 || st.Skipped[directory.SkipCollector] == 0 {
			t.Errorf("nothing resolved or no collector session: %+v", st)
		}
		t.Logf("stats: %+v", st)

		// The BloodHound file of the scan, read back strictly: every
		// ObjectIdentifier and pair is samba-tool's SID.
		bh := bloodhound.NewComputers(bloodhound.Options{CollectorVersion: "test", Domain: conn.Domain()})
		for _, h := range hosts {
			bh.Add(h)
		}
		var buf bytes.Buffer
		if err := bh.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		file, err := bloodhound.Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(file.Data) != 5 {
			t.Fatalf("%d records", len(file.Data))
		}
		sidOf := map[string]string{}
		for name := range d.hosts {
			sidOf[d.sid(t, name+"$")] = name
		}
		pairs := 0
		for _, rec := range file.Data {
			name, ok := sidOf[rec.ObjectIdentifier]
			if !ok {
				t.Errorf("record %s is no fleet host's SID", rec.ObjectIdentifier)
				continue
			}
			if want := strings.ToUpper(strings.ToLower(name) + "." + d.dc.DNSDomain); rec.Properties.Name != want ||
				rec.DomainSID != strings.ToUpper(d.dc.DomainSID) {
				t.Errorf("%s: name %s, domain SID %s", name, rec.Properties.Name, rec.DomainSID)
			}
			switch d.hosts[name].Behavior {
			case fleet.Denied:
				if rec.Sessions.Collected || rec.Sessions.FailureReason == nil || *rec.Sessions.FailureReason != "ErrorAccessDenied" {
					t.Errorf("%s (denied): %+v", name, rec.Sessions)
				}
			case fleet.Hang:
				if rec.Sessions.Collected || rec.Sessions.FailureReason == nil || *rec.Sessions.FailureReason != "Timeout" {
					t.Errorf("%s (hang): %+v", name, rec.Sessions)
				}
			default:
				if !rec.Sessions.Collected {
					t.Errorf("%s: not collected: %+v", name, rec.Sessions)
				}
			}
			for _, p := range rec.Sessions.Results {
				pairs++
				user := ""
				for _, u := range d.users {
					if d.sid(t, u) == p.UserSID {
						user = u
					}
				}
				client := ""
				for _, cl := range d.clients {
					if d.sid(t, cl+"$") == p.ComputerSID {
						client = cl
					}
				}
				if user == "" || client == "" {
					t.Errorf("%s: pair %+v is not a domain user and client computer", name, p)
				}
			}
		}
		if pairs != bh.Report().Pairs || pairs == 0 {
			t.Errorf("%d pairs in the file, report says %d", pairs, bh.Report().Pairs)
		}
	})
}

func excluded(d *directory.Discovery, name string, reason directory.Exclusion) bool {
	for _, e := range d.Excluded {
		if e.Computer.Name == name && e.Reason == reason {
			return true
		}
	}
	return false
}

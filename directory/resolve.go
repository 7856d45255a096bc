package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/scan"
)

// Lookup is what a Resolver asks of the directory. *Conn implements it.
type Lookup interface {
	// Domain is the domain the lookups are in.
	Domain() Domain
	// AccountSID returns the objectSid of the account whose
	// sAMAccountName is sam (ErrNotFound when there is none).
	AccountSID(ctx context.Context, sam string) (string, error)
	// HostSID returns the objectSid of the computer whose dNSHostName is
	// fqdn (ErrNotFound when there is none).
	HostSID(ctx context.Context, fqdn string) (string, error)
}

// AccountSID returns the SID of the account named sam (a user, or a computer
// as NAME$), upper case.
func (c *Conn) AccountSID(ctx context.Context, sam string) (string, error) {
	return c.oneSID(ctx, "(sAMAccountName="+ldap.EscapeFilter(sam)+")")
}

// HostSID returns the SID of the computer whose dNSHostName is fqdn.
func (c *Conn) HostSID(ctx context.Context, fqdn string) (string, error) {
	return c.oneSID(ctx, "(&(objectCategory=computer)(dNSHostName="+ldap.EscapeFilter(fqdn)+"))")
}

func (c *Conn) oneSID(ctx context.Context, filter string) (string, error) {
	entries, err := c.search(ctx, c.domain.BaseDN, filter, []string{"objectSid"})
	if err != nil {
		return "", err
	}
	switch len(entries) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, filter)
	case 1:
	default:
		return "", fmt.Errorf("%w: %s matched %d objects", ErrAmbiguous, filter, len(entries))
	}
	sid, err := DecodeSID(entries[0].GetRawAttributeValue("objectSid"))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrSearch, entries[0].DN, err)
	}
	return strings.ToUpper(sid), nil
}

// ReverseFunc resolves an address to host names.
type ReverseFunc func(ctx context.Context, addr netip.Addr) ([]string, error)

// ReverseVia returns a ReverseFunc that asks the DNS server at server
// (HOST:PORT, port 53 by default) instead of the system's resolver: the
// domain controller's DNS, for one.
func ReverseVia(server string) ReverseFunc {
	r := DNSVia(server)
	return func(ctx context.Context, addr netip.Addr) ([]string, error) {
		return r.LookupAddr(ctx, addr.String())
	}
}

// DNSVia returns a resolver that asks the DNS server at server (HOST:PORT,
// port 53 by default) for every lookup instead of the system's
// configuration: the domain controller's DNS, whose zones name the
// domain's computers.
func DNSVia(server string) *net.Resolver {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// ResolverConfig configures a Resolver.
type ResolverConfig struct {
	// Collector is the collecting account (user, DOMAIN\user or
	// user@domain): its own sessions are left out.
	Collector string
	// Reverse resolves client addresses; nil uses the system resolver.
	Reverse ReverseFunc
	// NetBIOS, when not nil, asks a client address that reverse DNS does
	// not name (or names unknown to the directory) for its NetBIOS name
	// (NodeStatus), then resolves that as NAME$.
	NetBIOS NetBIOSFunc
}

// Stats counts what a Resolver resolved, over every call.
type Stats struct {
	// Sessions is the number of sessions seen, Skipped those left out
	// by reason, Resolved those with both SIDs.
	Sessions int
	Skipped  map[Skip]int
	Resolved int
	// UnresolvedUsers and UnresolvedClients count the sessions whose user
	// or client could not be resolved (a session may count in both).
	UnresolvedUsers, UnresolvedClients int
	// Lookups is the number of directory or DNS lookups made (cache
	// misses).
	Lookups int
}

// Resolver turns the user and client names of sessions into SIDs, with
// caches (negative answers included) shared by every caller. It is safe for
// concurrent use.
type Resolver struct {
	dir       Lookup
	dom       Domain
	reverse   ReverseFunc
	netbios   NetBIOSFunc
	collector string

	mu      sync.Mutex
	users   map[string]answer
	clients map[string]answer
	stats   Stats
}

type answer struct {
	sid string
	err error
}

// NewResolver returns a Resolver over dir.
func NewResolver(dir Lookup, cfg ResolverConfig) *Resolver {
	rev := cfg.Reverse
	if rev == nil {
		rev = func(ctx context.Context, addr netip.Addr) ([]string, error) {
			return net.DefaultResolver.LookupAddr(ctx, addr.String())
		}
	}
	return &Resolver{dir: dir, dom: dir.Domain(), reverse: rev, netbios: cfg.NetBIOS, collector: cfg.Collector,
		users: map[string]answer{}, clients: map[string]answer{}, stats: Stats{Skipped: map[Skip]int{}}}
}

// ErrForeignDomain is a name in a domain other than the directory's.
var ErrForeignDomain = errors.New("directory: name in another domain")

// inDomain reports whether name (NetBIOS or DNS) is the resolver's domain.
func (r *Resolver) inDomain(name string) bool {
	return name == "" || strings.EqualFold(name, r.dom.NetBIOSName) || strings.EqualFold(name, r.dom.DNSName)
}

// UserSID resolves a user name (user, DOMAIN\user or user@domain) to its SID.
// A name in another domain is ErrForeignDomain.
func (r *Resolver) UserSID(ctx context.Context, raw string) (string, error) {
	u := SplitUser(raw)
	if u.Name == "" {
		return "", fmt.Errorf("%w: empty user name", ErrNotFound)
	}
	if !r.inDomain(u.Domain) {
		return "", fmt.Errorf("%w: %s", ErrForeignDomain, raw)
	}
	key := strings.ToLower(u.Name)
	return r.cached(ctx, r.users, key, func(ctx context.Context) (string, error) {
		return r.dir.AccountSID(ctx, u.Name)
	})
}

// ComputerSID resolves a session's client name to the SID of the computer
// account: a NetBIOS name as NAME$, a DNS name by dNSHostName (then, in the
// domain, its first label as NAME$), an address by reverse DNS and then as a
// DNS name. A loopback address is not resolved here: see Resolve.
func (r *Resolver) ComputerSID(ctx context.Context, raw string) (string, error) {
	c := NormalizeClient(raw)
	if c.Kind == ClientEmpty {
		return "", fmt.Errorf("%w: empty client name", ErrNotFound)
	}
	return r.cached(ctx, r.clients, c.Kind.String()+":"+c.Host, func(ctx context.Context) (string, error) {
		return r.computer(ctx, c)
	})
}

func (r *Resolver) computer(ctx context.Context, c ClientName) (string, error) {
	switch c.Kind {
	case ClientNetBIOS:
		return r.dir.AccountSID(ctx, c.Host+"$")
	case ClientFQDN:
		sid, err := r.dir.HostSID(ctx, c.Host)
		if !errors.Is(err, ErrNotFound) {
			return sid, err
		}
		label, rest, _ := strings.Cut(c.Host, ".")
		if r.dom.DNSName != "" && strings.EqualFold(rest, r.dom.DNSName) {
			return r.dir.AccountSID(ctx, strings.ToUpper(label)+"$")
		}
		return "", err
	case ClientIP:
		sid, err := r.byReverseDNS(ctx, c)
		if r.netbios == nil || !errors.Is(err, ErrNotFound) {
			return sid, err
		}
		r.count(func(s *Stats) { s.Lookups++ })
		name, nerr := r.netbios(ctx, c.Addr)
		if nerr != nil {
			if errors.Is(nerr, ErrNotFound) || errors.Is(nerr, ErrNodeStatus) {
				return "", fmt.Errorf("%w; %w", err, nerr)
			}
			return "", nerr
		}
		sid, nerr = r.dir.AccountSID(ctx, name+"$")
		if nerr != nil {
			return "", fmt.Errorf("%w; NetBIOS name %s: %w", err, name, nerr)
		}
		return sid, nil
	}
	return "", fmt.Errorf("%w: empty client name", ErrNotFound)
}

// byReverseDNS resolves an address by its reverse DNS names.
func (r *Resolver) byReverseDNS(ctx context.Context, c ClientName) (string, error) {
	r.count(func(s *Stats) { s.Lookups++ })
	names, err := r.reverse(ctx, c.Addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return "", fmt.Errorf("%w: %s: no reverse DNS name", ErrNotFound, c.Host)
		}
		return "", fmt.Errorf("reverse DNS of %s: %w", c.Host, err)
	}
	for _, n := range names {
		nc := NormalizeClient(n)
		if nc.Kind != ClientFQDN && nc.Kind != ClientNetBIOS {
			continue
		}
		sid, err := r.computer(ctx, nc)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return sid, err
		}
	}
	return "", fmt.Errorf("%w: %s: reverse names %v unknown to the directory", ErrNotFound, c.Host, names)
}

// HostSID resolves a scan target (a DNS name, NetBIOS name or address) to its
// computer SID, as ComputerSID does: for targets that did not come from the
// directory.
func (r *Resolver) HostSID(ctx context.Context, target string) (string, error) {
	return r.ComputerSID(ctx, target)
}

func (r *Resolver) cached(ctx context.Context, m map[string]answer, key string, f func(context.Context) (string, error)) (string, error) {
	r.mu.Lock()
	a, ok := m[key]
	r.mu.Unlock()
	if ok {
		return a.sid, a.err
	}
	r.count(func(s *Stats) { s.Lookups++ })
	sid, err := f(ctx)
	sid = strings.ToUpper(sid)
	// Answers are cached, refusals too; errors that may pass (a lost
	// connection, a timeout) are not.
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrAmbiguous) {
		r.mu.Lock()
		m[key] = answer{sid, err}
		r.mu.Unlock()
	}
	return sid, err
}

func (r *Resolver) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// Stats returns the counts so far.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Skipped = make(map[Skip]int, len(r.stats.Skipped))
	for k, v := range r.stats.Skipped {
		s.Skipped[k] = v
	}
	return s
}

// Session is one session with its resolved names beside the raw ones.
type Session struct {
	// Raw is the session as the server reported it (its client and user
	// names untouched).
	Raw client.Session
	// Client and User are the names normalised.
	Client ClientName
	User   UserName
	// Skip is why the session yields no edge ("" when it does).
	Skip Skip
	// UserSID and ComputerSID are the SIDs of the user and of the
	// client's computer ("" when not resolved); UserErr and ClientErr say
	// why not.
	UserSID, ComputerSID string
	UserErr, ClientErr   error
}

// Resolved reports whether the session has both SIDs.
func (s *Session) Resolved() bool {
	return s.Skip == SkipNone && s.UserSID != "" && s.ComputerSID != ""
}

// Host is a scan result with its host SID and resolved sessions.
type Host struct {
	Result *scan.Result
	// Computer is the directory's object for the host when it came from
	// the directory (nil otherwise).
	Computer *Computer
	// SID is the host's computer SID ("" when not resolved; HostErr says
	// why).
	SID     string
	HostErr error
	// Sessions are the result's sessions, resolved, in order.
	Sessions []Session
}

// Resolve resolves the host of res and the names of its sessions. comp is
// the host's directory object (nil for a target that did not come from the
// directory: its SID is then resolved from the target name). A loopback
// client is the host itself.
func (r *Resolver) Resolve(ctx context.Context, res *scan.Result, comp *Computer) *Host {
	h := &Host{Result: res, Computer: comp}
	if comp != nil {
		h.SID = strings.ToUpper(comp.SID)
	} else {
		host := res.Target
		if t, err := scan.ParseTarget(res.Target); err == nil {
			host = t.Host
		}
		h.SID, h.HostErr = r.HostSID(ctx, host)
	}
	for _, s := range res.Sessions {
		rs := Session{Raw: s, Client: NormalizeClient(s.ClientName), User: SplitUser(s.UserName)}
		rs.Skip = SkipSession(s.ClientName, s.UserName, r.collector)
		r.count(func(st *Stats) {
			st.Sessions++
			if rs.Skip != SkipNone {
				st.Skipped[rs.Skip]++
			}
		})
		if rs.Skip != SkipNone {
			h.Sessions = append(h.Sessions, rs)
			continue
		}
		rs.UserSID, rs.UserErr = r.UserSID(ctx, s.UserName)
		if rs.Client.Loopback() {
			rs.ComputerSID, rs.ClientErr = h.SID, h.HostErr
			if h.SID == "" && h.HostErr == nil {
				rs.ClientErr = fmt.Errorf("%w: loopback client of a host without a SID", ErrNotFound)
			}
		} else {
			rs.ComputerSID, rs.ClientErr = r.ComputerSID(ctx, s.ClientName)
		}
		r.count(func(st *Stats) {
			if rs.UserErr != nil {
				st.UnresolvedUsers++
			}
			if rs.ComputerSID == "" {
				st.UnresolvedClients++
			}
			if rs.Resolved() {
				st.Resolved++
			}
		})
		h.Sessions = append(h.Sessions, rs)
	}
	return h
}

package fleet

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
)

// population is the estate the fleet's sessions come from: users shared
// across servers (a few of them administrators), machine accounts of the
// workstations, and the clients' addresses, IPv4 and IPv6.
type population struct {
	users    []string
	machines int
}

func newPopulation(rng *rand.Rand) *population {
	first := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne"}
	p := &population{machines: 500, users: append([]string(nil), first...)}
	for _, n := range first[:5] {
		p.users = append(p.users, "adm-"+n)
	}
	p.users = append(p.users, "svc-backup", "svc-sql", "svc-web")
	rng.Shuffle(len(p.users), func(i, j int) { p.users[i], p.users[j] = p.users[j], p.users[i] })
	return p
}

// session draws one plausible session: mostly users from workstations,
// some machine accounts (ending in $), a fifth of the clients on IPv6;
// ages up to a week, idle up to the age, a few opens.
func (p *population) session(rng *rand.Rand) Session {
	ws := rng.IntN(p.machines)
	var client netip.Addr
	if rng.IntN(5) == 0 {
		client = netip.AddrFrom16([16]byte{0xfd, 0x00, 0, 0x10, 14: byte(ws >> 8), 15: byte(ws)})
	} else {
		client = netip.AddrFrom4([4]byte{10, 20, byte(ws >> 8), byte(ws)})
	}
	s := Session{Client: client.String()}
	if rng.IntN(6) == 0 {
		s.User = fmt.Sprintf("WS%04d$", ws)
	} else {
		s.User = p.users[rng.IntN(len(p.users))]
	}
	s.Time = uint32(rng.IntN(7 * 24 * 3600))
	s.Idle = uint32(rng.IntN(int(s.Time) + 1))
	s.Opens = uint32(rng.IntN(4))
	if rng.IntN(10) == 0 {
		s.Opens += uint32(rng.IntN(40))
	}
	return s
}

// restore puts s into t as it was at now: set up s.Time seconds before,
// last active s.Idle seconds before, with its opens. It is the one place
// that knows how a session is restored.
func restore(t *session.Table, now time.Time, s Session) (*session.Session, error) {
	return t.Open(session.Spec{
		Client:     s.Client,
		User:       s.User,
		Transport:  smb2.DefaultTransport,
		Created:    now.Add(-time.Duration(s.Time) * time.Second),
		LastActive: now.Add(-time.Duration(s.Idle) * time.Second),
		Opens:      s.Opens,
	})
}

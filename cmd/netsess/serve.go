package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/krb5"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/server"
	"github.com/netsession/netsession/session"
	"github.com/netsession/netsession/smb2"
	"github.com/netsession/netsession/srvs"
)

const serveHelp = `Serve a session table over MS-SRVS (srvsvc NetrSessionEnum and
NetrSessionDel) on ncacn_ip_tcp, with NTLMSSP and SPNEGO authentication
at packet integrity or privacy, and optionally an endpoint mapper so that
clients that ask port 135 first find the srvsvc port. It runs until
interrupted (SIGINT or SIGTERM), then lets calls in progress finish.

With --smb it is also an SMB2/3 server (dialects 2.0.2 to 3.1.1, signing
required by default) for IPC$ and the \PIPE\srvsvc named pipe, the way
Windows tools reach srvsvc: every SMB session set up there appears in the
table with the client's address, and NetSessionDel logs it off. Guest and
null sessions cannot sign; --guest and --anonymous admit them unsigned.
--smb-encrypt desired encrypts the sessions of SMB 3.x clients that can
(AES-128/256-CCM/GCM); required also refuses the clients that cannot
(SMB 2.x, guest and null sessions) and any request sent in clear.

Accounts come from --users, a JSON file:

  {"domain": "NETSESS", "guest": false, "users": [
    {"name": "alice", "password": "AlicePass1", "groups": ["Administrators"]},
    {"name": "bob", "nt_hash": "8846f7eaee8fb117ad06bdd830b7586c"}]}

Each user has a password or an nt_hash (the NT hash, MD4 of the UTF-16LE
password, as 32 hex digits: the password itself need not be stored), and
groups (Administrators and Server Operators mean something to the access
policies). "guest": true logs unknown user names on as the guest account.
Unknown keys are refused. Without --users the built-in demo accounts
alice/AlicePass1 (Administrators) and bob/BobPass1 are used, and only on
loopback addresses.

More sessions come from --seed: the JSON that "netsess list --json" prints (an
array, or one object per line), so a real server's sessions can be
replayed; "time" and "idle_time" say how many seconds ago each session
started and was last active (connected_at and last_active_at, which list
also prints, are read and ignored). --demo-sessions loads a few made-up
ones.

Binds at auth level connect (authenticated, but no PDU protected) succeed
and their calls get the fault nca_s_fault_access_denied, as Samba does by
default; --allow-connect-level lets them through. Unauthenticated binds
are the anonymous caller, whom the policy judges (modern: status 5). A
client cannot tell that refusal from a wrong password: both are that fault.

Running it as a service: see packaging/netsess-serve.service (systemd, with
hardening) in the source tree.`

// idleTimeout is --smb-idle-timeout: a duration, or never.
type idleTimeout struct{ d *time.Duration }

func (v idleTimeout) Set(s string) error {
	if s == "never" {
		*v.d = -1
		return nil
	}
	d, err := cli.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%v, or never", err)
	}
	*v.d = d
	return nil
}

func (v idleTimeout) String() string {
	if *v.d < 0 {
		return "never"
	}
	return cli.FormatDuration(*v.d)
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:    "serve",
		Summary: "serve sessions over MS-SRVS: SMB2/3 with \\PIPE\\srvsvc (--smb), ncacn_ip_tcp and an endpoint mapper",
		Help:    serveHelp,
		Examples: []string{
			"netsess serve --demo-sessions",
			"netsess serve --smb 127.0.0.1:4450 --ready-file ready.json",
			"netsess list 127.0.0.1:4450 -U alice%AlicePass1     # lists its own SMB session",
			"rpcclient -p 4450 -U alice%AlicePass1 127.0.0.1 -c netsessenum",
			"netsess serve --rpc 127.0.0.1:9135 --epm 127.0.0.1:135 --seed sessions.json",
			"netsess serve --rpc 0.0.0.0:49700 --users accounts.json --policy legacy",
			"netsess list --json ... | netsess serve --seed /dev/stdin --compat samba-4.17",
			"rpcclient -U alice%AlicePass1 'ncacn_ip_tcp:127.0.0.1[PORT,sign]' -c netsessenum",
			"netsess serve --smb 127.0.0.1:4450 --smb-encrypt required   # SMB 3.x clients encrypt, others are refused",
			"smbclient -L //127.0.0.1 -p 4450 -U alice%AlicePass1 --client-protection=encrypt",
			"netsess serve --smb 127.0.0.1:4450 --keytab srv.keytab      # Kerberos logons too (the PAC's groups decide access)",
			"netsess serve --smb 127.0.0.1:4450 --metrics 127.0.0.1:9100",
			"curl -s http://127.0.0.1:9100/metrics                       # connections, sessions, calls...",
		},
		ExitCodes: []cli.ExitCode{
			{Code: 0, Meaning: "stopped after an interrupt (SIGINT or SIGTERM)"},
			{Code: 1, Meaning: "usage error (bad flag or value)"},
			{Code: 5, Meaning: "could not start or serve (address in use, bad accounts or seed file, demo accounts on a non-loopback address)"},
		},
		Define: defineServe,
	}
}

func defineServe(fs *cli.FlagSet) cli.Action {
	fs.Group("Listeners")
	smbAddr := fs.String("smb", "", `TCP `+"`ADDRESS`"+` to serve SMB2/3 on (clients ask port 445): IPC$ and \PIPE\srvsvc, whose sessions are the ones listed; empty: none`)
	rpcAddr := fs.String("rpc", server.DefaultRPCAddr, "TCP `ADDRESS` to serve srvsvc on over ncacn_ip_tcp (port 0: the kernel picks one; see --ready-file)")
	epmAddr := fs.String("epm", "", "TCP `ADDRESS` to serve the endpoint mapper on (clients ask port 135); empty: none")
	metricsAddr := fs.String("metrics", "", "TCP `ADDRESS` to serve counters on over HTTP: /metrics (Prometheus text) and /debug/vars (JSON); empty: none")
	ready := fs.File("ready-file", "", `write {"rpc": "HOST:PORT", "epm": "HOST:PORT", "smb": "HOST:PORT"} to this `+"`FILE`"+` once listening`)
	fs.Group("Accounts and access")
	users := fs.File("users", "", "accounts `FILE` (JSON, see above); empty: built-in demo accounts, loopback only")
	policy := fs.String("policy", "modern", "access `POLICY`: modern, legacy, open, or rules such as '0,10=user;1,2,502,del=operator'")
	guest := fs.Bool("guest", "SMB: admit logons that map to the guest account (unknown users), unsigned")
	anonymous := fs.Bool("anonymous", "SMB: admit null sessions, unsigned")
	allowConnect := fs.Bool("allow-connect-level", "accept calls on associations authenticated at level connect")
	keytab := fs.File("keytab", "", "accept Kerberos logons next to NTLM with the service keys of this keytab `FILE`, as samba-tool domain exportkeytab writes them: over SMB (cifs/HOST entries) and over ncacn_ip_tcp (DCE-style Kerberos, host/HOST entries, with integrity and privacy); the groups of the ticket's PAC decide access (Domain Admins are administrators)")
	fs.Group("SMB")
	smbSigning := fs.Choice("smb-signing", "required", []string{"required", "enabled"}, "SMB signing for authenticated sessions: required or enabled")
	smbEncrypt := fs.Choice("smb-encrypt", "off", []string{"off", "desired", "required"}, "SMB 3.x encryption: off, desired (clients that can encrypt do) or required (clients that cannot are refused)")
	smbMaxConns := fs.Int("smb-max-conns", smb2.DefaultMaxConns, "SMB connections served at once; more are closed at accept (negative: no bound)")
	smbIdle := new(time.Duration)
	*smbIdle = smb2.DefaultIdleTimeout
	fs.Var(idleTimeout{smbIdle}, "smb-idle-timeout", "close an SMB connection with sessions that sends nothing for this `DURATION` (never: keep it)")
	fs.Group("Sessions")
	seedFile := fs.File("seed", "", "sessions to preload from this `FILE`: the JSON of 'netsess list --json'")
	demoSessions := fs.Bool("demo-sessions", "preload a few made-up sessions (after --seed's)")
	cname := fs.Choice("cname", "", []string{"windows", "bare"}, `client name `+"`STYLE`"+`: windows (\\10.0.0.5) or bare (10.0.0.5); default windows, bare under --compat samba-4.17`)
	compat := fs.Choice("compat", "none", []string{"none", "samba-4.17"}, "answer as another server does: none or samba-4.17 (levels 0 and 1 only, filters ignored, Samba's totals and status codes)")
	fs.Group("Logging")
	logLevel := fs.Choice("log-level", "info", []string{"debug", "info", "warn", "error"}, "log `LEVEL`: debug (one record per call), info, warn or error")
	logFormat := fs.Choice("log-format", "text", []string{"text", "json"}, "log `FORMAT` on stderr: text or json")
	return func(ctx context.Context, inv *cli.Invocation) int {
		stderr := inv.Stderr
		usageErr := inv.Usagef
		var cfg server.Config
		cfg.RPCAddr = *rpcAddr
		cfg.EPMAddr = *epmAddr
		cfg.SMBAddr = *smbAddr
		cfg.Limits.SMB.MaxConns = *smbMaxConns
		cfg.Timeouts.SMB.Idle = *smbIdle
		cfg.MetricsAddr = *metricsAddr
		cfg.AllowGuest = *guest
		cfg.AllowAnonymous = *anonymous
		cfg.ReadyFile = *ready
		cfg.AllowConnectLevel = *allowConnect
		var err error
		if cfg.Policy, err = session.ParsePolicy(*policy); err != nil {
			return usageErr("--policy: %v", err)
		}
		if cfg.SMBSigning, err = smb2.ParseSigningPolicy(*smbSigning); err != nil {
			return usageErr("--smb-signing: want required or enabled, not %q", *smbSigning)
		}
		if cfg.SMBEncrypt, err = smb2.ParseEncryptionPolicy(*smbEncrypt); err != nil {
			return usageErr("--smb-encrypt: want off, desired or required, not %q", *smbEncrypt)
		}
		if cfg.Compat, err = srvs.ParseCompat(*compat); err != nil {
			return usageErr("--compat: want none or samba-4.17, not %q", *compat)
		}
		if *cname != "" {
			style, ok := session.ParseCnameStyle(*cname)
			if !ok {
				return usageErr("--cname: want windows or bare, not %q", *cname)
			}
			if cfg.Compat == srvs.CompatSamba417 && style != session.CnameBare {
				return usageErr("--cname %s contradicts --compat samba-4.17 (Samba sends bare names)", *cname)
			}
			cfg.Cname = style
		}
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
			return usageErr("--log-level: want debug, info, warn or error, not %q", *logLevel)
		}
		opts := &slog.HandlerOptions{Level: lvl}
		switch strings.ToLower(*logFormat) {
		case "text":
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
		case "json":
			cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
		default:
			return usageErr("--log-format: want text or json, not %q", *logFormat)
		}
		fail := func(err error) int {
			fmt.Fprintf(stderr, "netsess serve: %s\n", userText(err))
			return exitInternal
		}
		if *users != "" {
			if cfg.Accounts, err = ntlm.LoadAccounts(*users); err != nil {
				return fail(err)
			}
		}
		if *keytab != "" {
			keys, err := krb5.LoadKeys(*keytab)
			if err != nil {
				return fail(err)
			}
			cfg.Kerberos = &krb5.Acceptor{Keys: keys, Logger: cfg.Logger.With("component", "krb5")}
		}
		if *seedFile != "" {
			if cfg.Seeds, err = server.LoadSeed(*seedFile); err != nil {
				return fail(err)
			}
		}
		if *demoSessions {
			cfg.Seeds = append(cfg.Seeds, serveDemoSeeds()...)
		}
		// The throttle's defaults: failed answers held back 2 s, budgets per
		// account, per source and account, and per source (see ntlm.Throttle).
		cfg.Throttle = &ntlm.Throttle{}
		srv, err := server.New(cfg)
		if err != nil {
			return fail(err)
		}
		if err := srv.Run(ctx); err != nil {
			return fail(err)
		}
		return exitOK
	}
}

// serveDemoSeeds are the sessions --demo-sessions loads.
func serveDemoSeeds() []server.Seed {
	const nb = smb2.DefaultTransport
	return []server.Seed{
		{Client: "10.0.0.5", User: "alice", Opens: 2, Time: 2*3600 + 13*60, Idle: 5 * 60, Transport: nb},
		{Client: "fe80::9", User: "bob", Opens: 1, Time: 47 * 60, Idle: 45, Transport: nb},
		{Client: "192.168.7.20", User: "WKS7$", Time: 26 * 3600, Idle: 3 * 3600, Transport: nb},
		{Client: "WKSCAROL", User: "carol", Time: 9 * 60, Idle: 9 * 60, ClientType: "Windows 5.0", Transport: `\Device\NetBT_Tcpip_{6B3C2A1E-2F8D-4D8E-9C1B-0A1B2C3D4E5F}`},
		{Client: "10.0.0.9", User: "nobody", Opens: 1, Time: 30, Idle: 2, Flags: session.FlagGuest | session.FlagNoEncryption, Transport: nb},
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/netsession/netsession/client"
	"github.com/netsession/netsession/dcerpc"
	"github.com/netsession/netsession/internal/cli"
	"github.com/netsession/netsession/ntlm"
	"github.com/netsession/netsession/session"
)

// Exit codes of the client commands (list, get, del), documented in their
// help.
const (
	exitUnreachable = 2   // unreachable or timeout
	exitLogon       = 3   // logon failure
	exitDenied      = 4   // access denied (status 5)
	exitStatus      = 5   // another returned status
	exitFault       = 6   // RPC fault, or the RPC failed otherwise
	exitInterrupted = 130 // interrupted (Ctrl-C)
)

// passwordEnv is the environment variable a password may come from, and
// userEnv the one -U's value may come from when -U is not given.
const (
	passwordEnv = "NETSESS_PASSWORD"
	userEnv     = "NETSESS_USER"
)

// clientExitCodes are the exit codes of list, get and del; noMatch says
// what a request that matches no session exits with.
func clientExitCodes(noMatch cli.ExitCode) []cli.ExitCode {
	codes := []cli.ExitCode{
		{Code: 0, Meaning: "success"},
		{Code: 1, Meaning: "usage error (unknown flag, bad value, missing password on a non-terminal)"},
		{Code: 2, Meaning: "unreachable or timeout (no connection, connection lost, deadline passed)"},
		{Code: 3, Meaning: "logon failure (the server refused the credentials)"},
		{Code: 4, Meaning: "access denied (the method returned ERROR_ACCESS_DENIED, 5; over smb also the server refusing the IPC$ share or the pipe)"},
		{Code: 5, Meaning: "the server returned another status (invalid level, not found, ...)"},
		{Code: 6, Meaning: "the RPC failed: a fault PDU (also a call refused at --auth connect), a refused bind or an undecodable answer"},
		{Code: 130, Meaning: "interrupted (Ctrl-C); what was read before is printed"},
	}
	for i := range codes {
		if codes[i].Code == noMatch.Code {
			codes[i].Meaning += "; " + noMatch.Meaning
		}
	}
	return codes
}

// credentialsGuest is the end of the credentials help for list, get
// and del; scanCredentialsHelp ends it with scan's outcome instead.
const credentialsGuest = "  refused as a logon failure (exit 3) unless --guest accepts it.\n"

// credentialsHelp is the credentials paragraph of the client commands'
// help.
const credentialsHelp = credentialsBase + credentialsGuest + kerberosHelp

// scanCredentialsHelp is scan's: a refused guest logon is a host's
// reason, not an exit code.
const scanCredentialsHelp = credentialsBase + "  refused (reason guest_refused) unless --guest accepts it.\n" + kerberosHelp

// credentialsBase is the credentials paragraph up to what happens to a
// logon mapped to guest.
const credentialsBase = `Credentials:
  -U USER[%PASSWORD] logs on as USER (DOMAIN\USER and USER@DOMAIN work too);
  without -U, the NETSESS_USER environment variable gives its value. The
  password comes from, in order: -U's %PASSWORD, --password-file, the
  NETSESS_PASSWORD environment variable, or a prompt when stdin is a
  terminal (never otherwise). --nt-hash logs on with the NT hash alone
  (32 hex digits, or LMHASH:NTHASH). --credentials FILE gives it all for
  unattended use, one "key = value" per line ('#' comments): user (USER,
  DOMAIN\USER or USER@DOMAIN), domain, and password or nt_hash; it
  replaces -U, --domain, --password-file and --nt-hash, and (on unix) a
  file that its group or others may read is refused, as ssh refuses such a
  key (chmod 600). Without any user, or with --anonymous, the logon is a null
  session. Over smb a logon with credentials must give a
  signed session: a server that logs it on as its guest account instead
  (Samba's "map to guest = bad user" does that for an unknown user) is
`

// cliEnv is what the client commands take from the process, injectable
// for tests.
type cliEnv struct {
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	// prompt reads a password from the terminal; nil when stdin is not
	// one.
	prompt func(label string) (string, error)
	// lookupAddr reverse-resolves an address (--resolve).
	lookupAddr func(ctx context.Context, addr string) ([]string, error)
	// stdin is the standard input (scan -); nil reads nothing.
	stdin io.Reader
	// stderrTerminal says whether stderr is a terminal (scan's progress
	// bar).
	stderrTerminal bool
	// readSecret reads a file of secrets and returns its permission
	// bits as they were when it was read (--credentials).
	readSecret func(name string) ([]byte, fs.FileMode, error)
	// sleep waits between watch's rounds; nil uses a timer.
	sleep func(ctx context.Context, d time.Duration) error
	// location is the zone of history's tables; nil is the local one.
	location *time.Location
}

// readSecretFile reads name and the mode of the file it read (from the
// open descriptor, so the two describe one file).
func readSecretFile(name string) ([]byte, fs.FileMode, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	return b, fi.Mode().Perm(), err
}

func osEnv(stderr io.Writer) cliEnv {
	e := cliEnv{getenv: os.Getenv, readFile: os.ReadFile, lookupAddr: net.DefaultResolver.LookupAddr,
		stdin: os.Stdin, stderrTerminal: term.IsTerminal(int(os.Stderr.Fd())), readSecret: readSecretFile}
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		e.prompt = func(label string) (string, error) {
			fmt.Fprint(stderr, label)
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(stderr)
			return string(b), err
		}
	}
	return e
}

// connFlags are the flags every client command shares: where and how to
// connect, as whom, and the output format.
type connFlags struct {
	server, transport, epm  string
	user, domain, ntHash    string
	passwordFile, auth      string
	credFile, filePassword  string
	anonymous, spnego, json bool
	csv, csvRaw, debug      bool
	guest                   bool
	timeout                 time.Duration
	fs                      *cli.FlagSet
	kerb                    kerbFlags
}

// register defines the connection and credential flags of a command that
// asks one server.
func (c *connFlags) register(fs *cli.FlagSet) {
	c.fs = fs
	fs.Group("Connection")
	fs.StringVar(&c.server, "server", "the server: `HOST`, HOST:PORT, [IPV6]:PORT (also accepted as the only argument, before or after the flags)")
	c.registerTransport(fs, "deadline of each call (connect and bind, every page, a delete), as 30s, 2m; 0 for none")
	c.registerCredentials(fs)
}

// registerTransport defines --transport, --epm and --timeout (whose usage
// says what the deadline covers) under the current group.
func (c *connFlags) registerTransport(fs *cli.FlagSet, timeoutUsage string) {
	c.fs = fs
	c.transport = client.DefaultTransport
	fs.ChoiceVar(&c.transport, "transport", []string{client.TransportSMB, client.TransportTCP}, `smb (\PIPE\srvsvc over SMB2/3, port 445 by default) or tcp (ncacn_ip_tcp; without a port the endpoint mapper is asked)`)
	fs.StringVar(&c.epm, "epm", "endpoint mapper address `HOST:PORT` for --transport tcp without a port (default HOST:135)")
	c.timeout = 30 * time.Second
	fs.DurationVar(&c.timeout, "timeout", timeoutUsage).Arg = "DURATION"
}

// registerCredentials defines the credential flags under their own group.
func (c *connFlags) registerCredentials(fs *cli.FlagSet) {
	fs.Group("Credentials")
	fs.StringVar(&c.user, "U", `log on as `+"`USER[%PASSWORD]`"+` (DOMAIN\USER and USER@DOMAIN accepted)`)
	fs.StringVar(&c.domain, "domain", "logon `DOMAIN`, when -U does not name one")
	fs.StringVar(&c.ntHash, "nt-hash", "log on with this NT hash (32 hex digits, or LMHASH:NTHASH) instead of a password").Arg = "HASH"
	fs.StringVar(&c.passwordFile, "password-file", "read the password from the first line of this `FILE`").Files = true
	fs.StringVar(&c.credFile, "credentials", "read user, domain and password or nt_hash from this `FILE` (key = value lines; mode 600 or stricter), for unattended use").Files = true
	fs.BoolVar(&c.anonymous, "anonymous", "null session (no credentials)")
	fs.BoolVar(&c.guest, "guest", "over smb, accept a logon the server maps to its guest account (an unknown user, on servers that map those to guest); the session is unsigned, so anyone on the path could answer in the server's name")
	authChoices := []string{"none", "connect", "integrity", "privacy", mechKerberos, mechNTLM, mechAuto}
	fs.ChoiceVar(&c.auth, "auth", authChoices, "the mechanism: kerberos (only), ntlm (only; the default without -k) or auto (Kerberos, then NTLM); or, over tcp, the DCE/RPC protection: none (NTLM only), connect, integrity or privacy (default: integrity with credentials, none for a null session); over smb the SMB session protects the pipe")
	fs.BoolVar(&c.spnego, "spnego", "over tcp, wrap NTLM or Kerberos in SPNEGO (auth type 9) instead of raw NTLMSSP (10) or DCE-style Kerberos (16)")
	c.kerb.register(fs)
}

// authMechanism returns --auth's mechanism choice, "" for a protection
// level or none.
func (c *connFlags) authMechanism() string {
	switch c.auth {
	case mechKerberos, mechNTLM, mechAuto:
		return c.auth
	}
	return ""
}

// registerOutput defines the output flags; lists adds --csv and
// --csv-raw.
func (c *connFlags) registerOutput(fs *cli.FlagSet, lists bool) {
	c.registerOutputAs(fs, lists, "JSON Lines: one object per session, or one error object")
}

// registerOutputAs is registerOutput with the usage of --json.
func (c *connFlags) registerOutputAs(fs *cli.FlagSet, lists bool, jsonUsage string) {
	fs.Group("Output")
	fs.BoolVar(&c.json, "json", jsonUsage)
	if lists {
		fs.BoolVar(&c.csv, "csv", "CSV with a header; the same column names as --json; a field that starts with =, +, -, @, a tab or a carriage return gets a leading ' so that spreadsheets do not run it as a formula")
		fs.BoolVar(&c.csvRaw, "csv-raw", "with --csv, write every field exactly as the server sent it (no leading ' before =, +, -, @)")
	}
	fs.BoolVar(&c.debug, "debug", "log the exchange to stderr: transport, dialect, signing and encryption, authentication, every call with its level, size and duration, paging")
}

// oneServer takes the server from --server or the only positional
// argument: the client commands ask one server.
func (c *connFlags) oneServer(cmd string, args []string) error {
	scan := fmt.Sprintf("netsess %s asks one server; to ask several, use 'netsess scan'", cmd)
	switch {
	case c.fs != nil && c.fs.Count("server") > 1:
		return usagef("--server given %d times: %s", c.fs.Count("server"), scan)
	case len(args) > 1:
		return usagef("unexpected argument %q after the server %q: %s", args[1], args[0], scan)
	case len(args) == 1 && c.server != "":
		return usagef("two servers, --server %q and %q: %s", c.server, args[0], scan)
	case len(args) == 1:
		c.server = args[0]
	}
	if c.server == "" {
		return usagef("no server: give it as the argument or with --server (netsess %s --help)", cmd)
	}
	return nil
}

// usageError is a bad flag value: exit code 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// options turns the flags into client options. args are the positional
// arguments (at most one: the server).
func (c *connFlags) options(cmd string, args []string, env cliEnv, stderr io.Writer) (string, client.Options, error) {
	if err := c.oneServer(cmd, args); err != nil {
		return "", client.Options{}, err
	}
	o, err := c.clientOptions(env, stderr)
	return c.server, o, err
}

// clientOptions turns the flags other than the server into client
// options: transport, credentials, protection, deadline, output checks.
func (c *connFlags) clientOptions(env cliEnv, stderr io.Writer) (client.Options, error) {
	var o client.Options
	if c.json && c.csv {
		return o, usagef("--json and --csv exclude each other")
	}
	if c.csvRaw && !c.csv {
		return o, usagef("--csv-raw goes with --csv")
	}
	o.Transport = c.transport
	o.MapperAddr = c.epm
	o.SPNEGO = c.spnego
	o.AllowGuest = c.guest
	o.Timeout = c.timeout
	if c.credFile != "" {
		if err := c.loadCredentials(env); err != nil {
			return o, err
		}
	} else if c.user == "" && !c.anonymous {
		c.user = env.getenv(userEnv)
	}
	if c.debug {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	mech := c.authMechanism()
	c.kerb.ccache = env.getenv("KRB5CCNAME")
	var cred client.Credentials
	var err error
	if _, noPassword := c.kerb.wants(mech, c.user); noPassword {
		userPart, _, _ := strings.Cut(c.user, "%")
		cred.User, cred.Domain = ntlm.SplitUser(userPart)
	} else if cred, err = c.credentials(env); err != nil {
		return o, err
	}
	o.Credentials = cred
	if err := c.kerb.apply(&o, mech, c); err != nil {
		return o, err
	}
	switch c.auth {
	case "":
	case "none":
		o.Auth = dcerpc.AuthLevelNone
	case "connect":
		o.Auth = dcerpc.AuthLevelConnect
	case "integrity":
		o.Auth = dcerpc.AuthLevelIntegrity
	case "privacy":
		o.Auth = dcerpc.AuthLevelPrivacy
	}
	if o.Transport == client.TransportSMB && ((c.auth != "" && mech == "") || c.spnego || c.epm != "") {
		return o, usagef("--auth, --spnego and --epm are for --transport tcp; over smb the SMB logon protects the pipe")
	}
	if o.Credentials.IsAnonymous() && o.Auth > dcerpc.AuthLevelConnect {
		return o, usagef("--auth %s needs credentials: a null session has no keys to sign or seal with", c.auth)
	}
	return o, nil
}

// credentials resolves -U, --domain, --nt-hash, --password-file,
// NETSESS_PASSWORD and the prompt.
func (c *connFlags) credentials(env cliEnv) (client.Credentials, error) {
	var cred client.Credentials
	if c.anonymous {
		if c.user != "" || c.ntHash != "" || c.passwordFile != "" {
			return cred, usagef("--anonymous excludes -U, --nt-hash and --password-file")
		}
		cred.Anonymous = true
		return cred, nil
	}
	if c.user == "" {
		if c.ntHash != "" || c.passwordFile != "" || c.domain != "" {
			return cred, usagef("--nt-hash, --password-file and --domain need -U")
		}
		cred.Anonymous = true
		return cred, nil
	}
	userPart, password, hasPassword := strings.Cut(c.user, "%")
	user, domain := ntlm.SplitUser(userPart)
	if user == "" {
		return cred, usagef("-U: no user name in %q", userPart)
	}
	if c.domain != "" {
		if domain != "" && !strings.EqualFold(domain, c.domain) {
			return cred, usagef("-U names domain %q, --domain %q", domain, c.domain)
		}
		domain = c.domain
	}
	cred.User, cred.Domain = user, domain
	if c.ntHash != "" {
		if hasPassword || c.passwordFile != "" {
			return cred, usagef("--nt-hash excludes a password")
		}
		h, err := client.ParseNTHash(c.ntHash)
		if err != nil {
			return cred, usagef("--nt-hash: %v", userText(err))
		}
		cred.NTHash = h
		return cred, nil
	}
	switch {
	case c.credFile != "":
		if c.filePassword == "" {
			return cred, usagef("--credentials %s: no password and no nt_hash", c.credFile)
		}
		cred.Password = c.filePassword
	case hasPassword && c.passwordFile != "":
		return cred, usagef("-U carries a password and --password-file gives another")
	case hasPassword:
		cred.Password = password
	case c.passwordFile != "":
		b, err := env.readFile(c.passwordFile)
		if err != nil {
			return cred, usagef("--password-file: %v", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		cred.Password = strings.TrimSuffix(string(line), "\r")
	case env.getenv(passwordEnv) != "":
		cred.Password = env.getenv(passwordEnv)
	case env.prompt != nil:
		who := user
		if domain != "" {
			who = domain + `\` + user
		}
		p, err := env.prompt(fmt.Sprintf("Password for %s: ", who))
		if err != nil {
			return cred, usagef("reading the password: %v", err)
		}
		cred.Password = p
	default:
		return cred, usagef("no password for %s: give -U USER%%PASSWORD, --password-file, %s or --nt-hash (stdin is not a terminal, so no prompt)", user, passwordEnv)
	}
	return cred, nil
}

// loadCredentials reads --credentials into the fields -U, --domain and
// --nt-hash fill, and the password.
func (c *connFlags) loadCredentials(env cliEnv) error {
	if c.user != "" || c.domain != "" || c.ntHash != "" || c.passwordFile != "" || c.anonymous {
		return usagef("--credentials gives the user and the secret: it excludes -U, --domain, --nt-hash, --password-file and --anonymous")
	}
	if env.readSecret == nil {
		return usagef("--credentials: cannot read files here")
	}
	b, mode, err := env.readSecret(c.credFile)
	if err != nil {
		return usagef("--credentials: %v", err)
	}
	// Windows has no such bits (access is by ACL): the check is unix's.
	if runtime.GOOS != "windows" && mode&0o077 != 0 {
		return usagef("--credentials %s: permissions %04o are too open: the file holds a secret and must be readable by its owner only (chmod 600 %s)", c.credFile, uint32(mode), c.credFile)
	}
	kv, err := parseCredentials(b)
	if err != nil {
		return usagef("--credentials %s: %v", c.credFile, err)
	}
	if kv["user"] == "" {
		return usagef("--credentials %s: no user", c.credFile)
	}
	if kv["password"] != "" && kv["nt_hash"] != "" {
		return usagef("--credentials %s: password and nt_hash exclude each other", c.credFile)
	}
	c.user, c.domain, c.ntHash, c.filePassword = kv["user"], kv["domain"], kv["nt_hash"], kv["password"]
	return nil
}

// parseCredentials reads "key = value" lines: '#' starts a comment line,
// blank lines are skipped, the keys are user, domain, password and
// nt_hash, each at most once. The value is the rest of the line after
// the first =, without the spaces around it.
func parseCredentials(b []byte) (map[string]string, error) {
	kv := map[string]string{}
	for n, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", n+1)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "user", "domain", "password", "nt_hash":
		default:
			return nil, fmt.Errorf("line %d: unknown key %q (want user, domain, password or nt_hash)", n+1, k)
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("line %d: %s given twice", n+1, k)
		}
		kv[k] = v
	}
	return kv, nil
}

// parseLevel parses 0, 1, 2, 10, 502 (those allowed) or auto.
func parseLevel(s string, allowed ...session.Level) (session.Level, error) {
	if s == "auto" {
		return client.LevelAuto, nil
	}
	for _, l := range allowed {
		if s == fmt.Sprint(uint32(l)) {
			return l, nil
		}
	}
	var names []string
	for _, l := range allowed {
		names = append(names, fmt.Sprint(uint32(l)))
	}
	return 0, usagef("--level: want %s or auto, not %q", strings.Join(names, ", "), s)
}

// exitCode maps a failure to the documented exit code.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	switch client.KindOf(err) {
	case client.KindUnreachable, client.KindTimeout:
		return exitUnreachable
	case client.KindCanceled:
		return exitInterrupted
	case client.KindLogonFailure:
		return exitLogon
	case client.KindAccessDenied:
		return exitDenied
	case client.KindInvalidLevel, client.KindNotSupported, client.KindNotFound, client.KindStatus:
		return exitStatus
	case client.KindFault, client.KindProtocol:
		return exitFault
	}
	// Errors that are not *client.Error come from Dial's argument checks.
	return exitUsage
}

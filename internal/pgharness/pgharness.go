//go:build linux

package pgharness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Account is the system user that runs the server when the tests run as
// root.
const Account = "nsp_pg"

// port only names the socket file (.s.PGSQL.5432); there is no TCP
// listener.
const port = 5432

// Server is a running private PostgreSQL server.
type Server struct {
	Dir     string // the temporary directory (also the socket directory)
	DataDir string // the data directory
	Log     string // the server's log file
	bin     string
	cred    *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	dbs  atomic.Int64
}

// ErrNotInstalled is returned by New when no PostgreSQL binaries are found.
var ErrNotInstalled = errors.New("pgharness: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)")

// findBin returns the newest /usr/lib/postgresql/*/bin holding initdb and
// postgres.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Start starts a server for tb and stops it when tb ends. It skips tb when
// PostgreSQL is not installed, unless CI=true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := New(ctx)
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("pgharness: %v", err)
		}
	})
	return s
}

func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skipf("%v (set CI=true to make this a failure)", err)
	}
	tb.Fatalf("pgharness: %v", err)
}

// New initialises a data directory and starts a server on it.
func New(ctx context.Context) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	parent := os.TempDir()
	if os.Geteuid() == 0 {
		cred, err := ensureAccount(ctx)
		if err != nil {
			return nil, err
		}
		s.cred = cred
		// The account must be able to reach the directory: /tmp is
		// world-searchable where a root-only TMPDIR may not be.
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "nspg")
	if err != nil {
		return nil, err
	}
	s.Dir, s.DataDir, s.Log = dir, filepath.Join(dir, "data"), filepath.Join(dir, "postgres.log")
	if len(s.socket()) > 100 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgharness: socket path %s too long for a unix socket", s.socket())
	}
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.command(ctx, "initdb", "-D", s.DataDir, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgharness: initdb: %v: %s", err, out)
	}
	if err := s.Restart(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) socket() string { return filepath.Join(s.Dir, ".s.PGSQL."+strconv.Itoa(port)) }

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	return cmd
}

// Restart starts the server on its existing data directory after Stop
// (New has already started it once).
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgharness: server already running")
	}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Not CommandContext: the server outlives ctx, which bounds the start.
	cmd := s.command(context.Background(), "postgres", "-D", s.DataDir, "-k", s.Dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB",
		"-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgharness: postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	for {
		if err := s.ping(ctx); err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("pgharness: postgres exited during start: %s", s.logTail())
		case <-ctx.Done():
			s.stopLocked()
			return fmt.Errorf("pgharness: postgres did not accept connections: %w: %s", ctx.Err(), s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	if _, err := os.Stat(s.socket()); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.Log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// PID returns the postmaster's process ID (0 when stopped).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// DSN returns a connection string for database db over the unix socket.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.Dir, port, db)
}

// CreateDB creates a fresh, uniquely named database and returns its DSN.
func (s *Server) CreateDB(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// Stop stops the server (fast shutdown, SIGKILL after 20 s) and keeps its
// data directory for Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGINT)
	var err error
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		<-s.done
		err = fmt.Errorf("pgharness: postgres (pid %d) ignored SIGINT and was killed", pid)
	}
	s.cmd = nil
	return err
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.Dir))
}

// Shared is one server for all the tests of a test binary, started on first
// use. Its zero value is ready; call Close from TestMain after the tests.
type Shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Get returns the shared server, starting it on the first call. It skips
// tb when PostgreSQL is not installed, unless CI=true.
func (sh *Shared) Get(tb testing.TB) *Server {
	tb.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv == nil && sh.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sh.srv, sh.err = New(ctx)
		cancel()
	}
	if sh.err != nil {
		skipOrFail(tb, sh.err)
	}
	return sh.srv
}

// Close stops the shared server, if it was started, and removes its files.
func (sh *Shared) Close() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv == nil {
		return nil
	}
	err := sh.srv.Close()
	sh.srv = nil
	return err
}

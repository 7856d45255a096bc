package promtext

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/netsession/netsession/internal/netlimit"
)

// Handler answers a scrape with g's families in text format 0.0.4, for
// GET and HEAD. Families that do not encode (ErrInvalid) are a program
// error: the answer is 500 and the error is logged to log (nil discards).
func Handler(g Gatherer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b, err := Append(nil, g.Gather())
		if err != nil {
			log.Error("metrics: cannot encode", "err", err)
			http.Error(w, "metrics cannot be encoded", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	})
}

// Bounds of a Server left at zero: a scraper holds one or two
// connections, so a few dozen in all and a handful from one address are
// plenty; a scrape is a small request and a small answer.
const (
	DefaultMaxConns        = 64
	DefaultMaxConnsPerAddr = 16
	DefaultTimeout         = 10 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
)

// Server serves a handler over HTTP with the bounds a listener open to a
// network needs: a connection cap in all and per address (an IPv6
// address counts per /64; refusals are logged as rate-limited summaries),
// a deadline to read a request's header, to read it whole and to write
// the answer, an idle timeout for kept-alive connections and a 64 KiB
// header limit. Its zero value serves http.NotFoundHandler with the
// default bounds.
type Server struct {
	// Handler answers the requests.
	Handler http.Handler
	// MaxConns and MaxConnsPerAddr bound the connections held at once, in
	// all and from one address (0: DefaultMaxConns,
	// DefaultMaxConnsPerAddr; negative: no bound).
	MaxConns, MaxConnsPerAddr int
	// Timeout bounds reading a request and writing its answer (0:
	// DefaultTimeout); IdleTimeout bounds a kept-alive connection
	// between requests (0: DefaultIdleTimeout).
	Timeout, IdleTimeout time.Duration
	// Name names the listener in log records ("metrics" when empty).
	Name string
	// Logger receives refusals and HTTP server errors; nil discards.
	Logger *slog.Logger
}

func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Serve serves on l until ctx is done, then stops: requests in progress
// get up to the Timeout to finish, then every connection is closed. It
// returns nil after a stop through ctx, or the error that ended serving.
// l is closed when Serve returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := s.Name
	if name == "" {
		name = "metrics"
	}
	h := s.Handler
	if h == nil {
		h = http.NotFoundHandler()
	}
	timeout := orDefault(s.Timeout, DefaultTimeout)
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: timeout,
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       orDefault(s.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// net/http retries temporary accept errors itself; the limiter bounds
	// the connections.
	ml := &netlimit.Listener{Listener: l, Limiter: &netlimit.Limiter{
		Max:     orDefault(s.MaxConns, DefaultMaxConns),
		PerAddr: orDefault(s.MaxConnsPerAddr, DefaultMaxConnsPerAddr),
		Name:    name,
		Logger:  log,
	}}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ml) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

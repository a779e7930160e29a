// Package serve runs a trained NVAE as a web service: a page to explore the model
// (samples with a temperature, reconstructions of uploaded images, interpolations and
// traversals of the latent hierarchy) and the JSON/PNG API behind it, with Prometheus
// metrics. Model inference is not safe to run concurrently on one model instance, so
// requests go through a bounded queue served by a fixed number of workers, each with
// its own copy of the model; a full queue answers 503 with Retry-After.
package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvae-go/nvae/model"
)

// Options configures a Server. Zero values take the defaults noted.
type Options struct {
	// Workers is the number of inference workers, each with its own copy of the
	// model (default 1).
	Workers int
	// QueueSize is how many requests may wait for a worker; beyond it requests get
	// 503 (default 8).
	QueueSize int
	// Timeout is the per-request deadline, waiting included (default 60 s).
	Timeout time.Duration
	// MaxUploadBytes bounds a request body (default 8 MiB).
	MaxUploadBytes int64
	// MaxSide bounds the width and height of an uploaded image (default 2048).
	MaxSide int
	// MaxN bounds the images of a sample or traversal (default 64).
	MaxN int
	// MaxSteps bounds the images of an interpolation (default 16).
	MaxSteps int
	// MaxTemp bounds the temperature, which must lie in (0, MaxTemp] (default 2).
	MaxTemp float64
	// Token, when not empty, is required as "Authorization: Bearer <token>" on every
	// /api/ route and /metrics.
	Token string
	// Logger receives a line per request (default slog.Default()).
	Logger *slog.Logger
	// Meta is shown under "meta" in /api/info (e.g. the checkpoint and BN statistics).
	Meta map[string]string
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 8 << 20
	}
	if o.MaxSide <= 0 {
		o.MaxSide = 2048
	}
	if o.MaxN <= 0 {
		o.MaxN = 64
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 16
	}
	if !(o.MaxTemp > 0) || math.IsInf(o.MaxTemp, 0) {
		o.MaxTemp = 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server is the HTTP service around one model. Create it with New, serve its
// Handler, and Close it after the HTTP server has shut down.
type Server struct {
	opts    Options
	cfg     model.Config
	jobs    chan *job
	workers sync.WaitGroup
	mu      sync.RWMutex // guards closed against sends on jobs
	closed  bool
	handler http.Handler
	reg     *prometheus.Registry
	met     *metrics
	token   [32]byte

	params       int
	latentShapes [][]int

	// beforeJob, when set (tests), runs in the worker before each job.
	beforeJob func()
}

// job is one unit of model work; run gets the worker's model.
type job struct {
	ctx   context.Context
	route string
	run   func(m *model.Model) (*result, error)
	done  chan jobResult
}

type jobResult struct {
	res *result
	err error
}

// result is a finished request: a body and its content type, and the number of
// images generated.
type result struct {
	body        []byte
	contentType string
	images      int
	header      map[string]string
}

// errBusy and errDeadline are the two ways a request is turned away with 503.
var (
	errBusy     = errors.New("the server is busy: the request queue is full, try again shortly")
	errDeadline = errors.New("the request did not finish within its deadline")
	errClosing  = errors.New("the server is shutting down")
)

// New returns a server for m. Workers beyond the first get their own copy of m (its
// state dict loaded into a new model of the same configuration), so m must not be
// used elsewhere while the server runs.
func New(m *model.Model, opts Options) (*Server, error) {
	if m == nil {
		return nil, errors.New("serve: no model")
	}
	opts = opts.withDefaults()
	s := &Server{opts: opts, cfg: m.Cfg, jobs: make(chan *job, opts.QueueSize), reg: prometheus.NewRegistry()}
	if opts.Token != "" {
		s.token = sha256.Sum256([]byte(opts.Token))
	}
	s.met = newMetrics(s.reg, opts)
	s.params, s.latentShapes = m.NumParams(), m.LatentShapes(1)
	models := []*model.Model{m}
	for i := 1; i < opts.Workers; i++ {
		c, err := cloneModel(m)
		if err != nil {
			return nil, fmt.Errorf("serve: copying the model for worker %d: %w", i+1, err)
		}
		models = append(models, c)
	}
	for _, wm := range models {
		s.workers.Add(1)
		go s.work(wm)
	}
	s.handler = s.routes()
	return s, nil
}

// cloneModel builds a model of m's configuration holding m's weights and statistics.
func cloneModel(m *model.Model) (*model.Model, error) {
	c, err := model.New(m.Cfg, 0)
	if err != nil {
		return nil, err
	}
	if err := c.LoadStateDict(m.StateDict()); err != nil {
		return nil, err
	}
	return c, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Close refuses new work, lets the workers finish the queued jobs and waits for
// them. Call it after the HTTP server's Shutdown.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.jobs)
	}
	s.mu.Unlock()
	s.workers.Wait()
}

func (s *Server) work(m *model.Model) {
	defer s.workers.Done()
	for j := range s.jobs {
		s.met.queueDepth.Dec()
		if j.ctx.Err() != nil { // its client gave up or its deadline passed while it waited
			j.done <- jobResult{err: errDeadline}
			continue
		}
		if s.beforeJob != nil {
			s.beforeJob()
		}
		start := time.Now()
		res, err := runSafely(j.run, m)
		s.met.inference.WithLabelValues(j.route).Observe(time.Since(start).Seconds())
		if err == nil {
			s.met.images.WithLabelValues(j.route).Add(float64(res.images))
		}
		j.done <- jobResult{res: res, err: err}
	}
}

// runSafely turns a panic of the model code into an error, so one bad request cannot
// take the server down.
func runSafely(run func(*model.Model) (*result, error), m *model.Model) (res *result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	return run(m)
}

// submit queues run and waits for its result until ctx ends. A full queue is errBusy
// at once; a passed deadline is errDeadline.
func (s *Server) submit(ctx context.Context, route string, run func(*model.Model) (*result, error)) (*result, error) {
	j := &job{ctx: ctx, route: route, run: run, done: make(chan jobResult, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, errClosing
	}
	s.met.queueDepth.Inc()
	select {
	case s.jobs <- j:
	default:
		s.met.queueDepth.Dec()
		s.mu.RUnlock()
		s.met.rejected.WithLabelValues("queue_full").Inc()
		return nil, errBusy
	}
	s.mu.RUnlock()
	select {
	case r := <-j.done:
		if errors.Is(r.err, errDeadline) {
			s.met.rejected.WithLabelValues("deadline").Inc()
		}
		return r.res, r.err
	case <-ctx.Done():
		s.met.rejected.WithLabelValues("deadline").Inc()
		return nil, errDeadline
	}
}

// authorized reports whether r carries the bearer token (always true without one).
// The comparison is of SHA-256 digests in constant time, so neither the token's
// content nor its length leaks through timing.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// CheckBind refuses to listen on a non-loopback address without a token unless
// insecure is set. An empty host (":8080") listens on every interface.
func CheckBind(addr, token string, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("serve: address %q: %w", addr, err)
	}
	if token != "" || insecure || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("serve: refusing to listen on %q, which is reachable from other machines, without --token (set a token, or pass --insecure to serve without one)", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ListenAndServe serves s on addr until ctx ends, then shuts down gracefully: the
// listener closes (new connections are refused), requests in flight get up to the
// request timeout plus five seconds to finish, and the workers stop. ready, when not
// nil, receives the bound address once listening.
func ListenAndServe(ctx context.Context, addr string, s *Server, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return Serve(ctx, ln, s)
}

// Serve is ListenAndServe on an existing listener.
func Serve(ctx context.Context, ln net.Listener, s *Server) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.opts.Timeout + 10*time.Second,
		WriteTimeout:      s.opts.Timeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.opts.Logger.Info("shutting down: finishing the requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout+5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	s.opts.Logger.Info("stopped")
	return nil
}

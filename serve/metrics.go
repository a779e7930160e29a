package serve

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, on a registry of its own.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inference  *prometheus.HistogramVec
	images     *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	queueDepth prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, opts Options) *metrics {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nvae_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nvae_http_request_duration_seconds", Help: "Time from request to response, by route.", Buckets: buckets,
		}, []string{"route"}),
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nvae_inference_duration_seconds", Help: "Time a worker spent on a request (decoding, model, PNG encoding), by route.", Buckets: buckets,
		}, []string{"route"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nvae_images_generated_total", Help: "Images produced by the model, by route.",
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nvae_requests_rejected_total", Help: "Requests answered 503, by reason (queue_full, deadline).",
		}, []string{"reason"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nvae_queue_depth", Help: "Requests waiting for a worker.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inference, m.images, m.rejected, m.queueDepth,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nvae_queue_capacity", Help: "Requests that may wait for a worker."},
			func() float64 { return float64(opts.QueueSize) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nvae_workers", Help: "Inference workers."},
			func() float64 { return float64(opts.Workers) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// statusRecorder remembers the status code and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// instrument counts, times and logs the requests of one route.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		d := time.Since(start)
		s.met.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		s.met.duration.WithLabelValues(route).Observe(d.Seconds())
		s.opts.Logger.LogAttrs(r.Context(), levelFor(rec.code), "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", rec.code), slog.Int("bytes", rec.bytes), slog.Duration("duration", d),
			slog.String("remote", r.RemoteAddr))
	})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

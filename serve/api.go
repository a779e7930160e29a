package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for uploads
	"image/png"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

// apiError is a client error: a status, the offending field and a message.
type apiError struct {
	status int
	field  string
	msg    string
}

func (e *apiError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers err: an *apiError with its status and field, errBusy,
// errDeadline and errClosing with 503 and Retry-After, anything else with 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := map[string]string{"error": err.Error()}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		body["error"], body["field"] = ae.msg, ae.field
		writeJSON(w, ae.status, body)
	case errors.Is(err, errBusy), errors.Is(err, errDeadline), errors.Is(err, errClosing):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, body)
	default:
		s.opts.Logger.Error("request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		writeJSON(w, http.StatusInternalServerError, body)
	}
}

func levelFor(code int) slog.Level {
	switch {
	case code >= 500:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// routes builds the handler of every route.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, auth bool, h http.HandlerFunc) {
		var hh http.Handler = h
		if auth {
			hh = s.requireToken(hh)
		}
		mux.Handle(pattern, s.instrument(route, hh))
	}
	handle("GET /{$}", "page", false, s.page)
	handle("GET /healthz", "healthz", false, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	handle("GET /metrics", "metrics", true, s.metricsHandler().ServeHTTP)
	handle("GET /api/info", "info", true, s.info)
	handle("GET /api/sample", "sample", true, s.sample)
	handle("POST /api/reconstruct", "reconstruct", true, s.reconstruct)
	handle("POST /api/interpolate", "interpolate", true, s.interpolate)
	handle("POST /api/traverse", "traverse", true, s.traverse)
	allowed := map[string]string{"/api/info": "GET", "/api/sample": "GET", "/api/reconstruct": "POST", "/api/interpolate": "POST", "/api/traverse": "POST"}
	handle("/api/", "unknown", true, func(w http.ResponseWriter, r *http.Request) {
		if m, ok := allowed[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.URL.Path + " takes " + m + " requests, not " + r.Method})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no API route " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func (s *Server) requireToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nvae"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token (send Authorization: Bearer <token>)", "field": "Authorization"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Info is the answer of /api/info.
type Info struct {
	Config       model.Config      `json:"config"`
	ImageSize    int               `json:"image_size"`
	Channels     int               `json:"channels"`
	InputSize    int               `json:"input_side"` // side of the image region uploads are resized to (before padding)
	Groups       int               `json:"groups"`
	LatentShapes [][]int           `json:"latent_shapes"` // per group, decoder order, for one image (NHWC)
	Decoder      string            `json:"decoder"`
	Params       int               `json:"params"`
	Workers      int               `json:"workers"`
	QueueSize    int               `json:"queue_size"`
	TimeoutSec   float64           `json:"timeout_seconds"`
	Limits       Limits            `json:"limits"`
	Meta         map[string]string `json:"meta,omitempty"`
}

// Limits are the bounds of the request parameters.
type Limits struct {
	MaxUploadBytes int64   `json:"max_upload_bytes"`
	MaxSide        int     `json:"max_side"`
	MaxN           int     `json:"max_n"`
	MaxSteps       int     `json:"max_steps"`
	MaxTemp        float64 `json:"max_temp"`
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	if err := s.checkQuery(r.URL.Query()); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Info())
}

// Info describes the model and the server's limits.
func (s *Server) Info() Info {
	cfg := s.cfg
	dec := "discretized_logistic_mixture"
	switch {
	case cfg.Binary():
		dec = "bernoulli"
	case cfg.NumMixtureDec == 1:
		dec = "normal"
	}
	return Info{
		Config: cfg, ImageSize: cfg.ImageSize(), Channels: cfg.ImageChannels(),
		InputSize: cfg.ImageSize() - 2*eval.InputTransform(cfg).Pad,
		Groups:    cfg.NumGroups(), LatentShapes: s.latentShapes, Decoder: dec, Params: s.params,
		Workers: s.opts.Workers, QueueSize: s.opts.QueueSize, TimeoutSec: s.opts.Timeout.Seconds(),
		Limits: Limits{MaxUploadBytes: s.opts.MaxUploadBytes, MaxSide: s.opts.MaxSide, MaxN: s.opts.MaxN, MaxSteps: s.opts.MaxSteps, MaxTemp: s.opts.MaxTemp},
		Meta:   s.opts.Meta,
	}
}

// query reads and checks the parameters of a request; every unknown one is an error.
type query struct {
	v    url.Values
	used map[string]bool
	err  *apiError
}

func newQuery(v url.Values) *query { return &query{v: v, used: map[string]bool{}} }

// get returns the single value of name ("" when absent).
func (q *query) get(name string) (string, bool) {
	q.used[name] = true
	vs, ok := q.v[name]
	if !ok {
		return "", false
	}
	if len(vs) != 1 && q.err == nil {
		q.err = badField(name, "given %d times", len(vs))
	}
	return vs[0], true
}

func (q *query) intIn(name string, def, lo, hi int) int {
	s, ok := q.get(name)
	if !ok || q.err != nil {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		q.err = badField(name, "must be an integer from %d to %d, got %q", lo, hi, s)
		return def
	}
	return v
}

func (q *query) temp(name string, def, hi float64) float32 {
	s, ok := q.get(name)
	if !ok || q.err != nil {
		return float32(def)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || !(v > 0) || v > hi || float32(v) <= 0 {
		q.err = badField(name, "must be a number in (0, %g], got %q", hi, s)
		return float32(def)
	}
	return float32(v)
}

// seed returns the seed parameter or a random one.
func (q *query) seed() uint64 {
	s, ok := q.get("seed")
	if !ok || q.err != nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return binary.LittleEndian.Uint64(b[:]) >> 12 // exact in a JavaScript number
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		q.err = badField("seed", "must be a non-negative integer, got %q", s)
	}
	return v
}

func (q *query) pixels() eval.PixelMode {
	s, ok := q.get("pixels")
	if !ok || q.err != nil {
		return eval.PixelDefault
	}
	switch s {
	case "default":
		return eval.PixelDefault
	case "mean":
		return eval.PixelMean
	case "sample_t":
		return eval.PixelSampleT
	}
	q.err = badField("pixels", "must be default, mean or sample_t, got %q", s)
	return eval.PixelDefault
}

// done returns the first error, or an unknown-parameter error.
func (q *query) done() error {
	if q.err != nil {
		return q.err
	}
	var unknown []string
	for k := range q.v {
		if !q.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return badField(unknown[0], "unknown parameter")
	}
	return nil
}

func (s *Server) checkQuery(v url.Values) error { return newQuery(v).done() }

// pngResult encodes a grid of images as PNG.
func pngResult(img image.Image, n int, seed uint64) (*result, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding the PNG: %w", err)
	}
	return &result{body: buf.Bytes(), contentType: "image/png", images: n,
		header: map[string]string{"X-Nvae-Seed": strconv.FormatUint(seed, 10)}}, nil
}

// gridResult lays out the n images of imgs in rows of nrow (0: square) and encodes
// the grid as pngResult does.
func gridResult(imgs *tensor.Tensor, nrow, n int, seed uint64) (*result, error) {
	g, err := report.Grid(imgs, nrow)
	if err != nil {
		return nil, err
	}
	return pngResult(g, n, seed)
}

// run submits work with the request's deadline and writes its answer.
func (s *Server) run(w http.ResponseWriter, r *http.Request, route string, work func(m *model.Model) (*result, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	res, err := s.submit(ctx, route, work)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for k, v := range res.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", res.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.body)
}

// sample: GET /api/sample?n=16&temp=0.7&seed=3[&nrow=4][&pixels=default]
func (s *Server) sample(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r.URL.Query())
	n := q.intIn("n", 16, 1, s.opts.MaxN)
	t := q.temp("temp", 0.7, s.opts.MaxTemp)
	seed := q.seed()
	nrow := q.intIn("nrow", 0, 0, s.opts.MaxN)
	mode := q.pixels()
	if err := q.done(); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.run(w, r, "sample", func(m *model.Model) (*result, error) {
		noise := model.NewSeededNoise(seed)
		img, err := eval.Sample(m, n, t, mode, noise, noise.Rand())
		if err != nil {
			return nil, err
		}
		return gridResult(img, nrow, n, seed)
	})
}

// runOnImages reads the uploaded images of the multipart fields and runs fn on the
// model (see run) with them decoded and preprocessed, and the seeded noise that did it.
func (s *Server) runOnImages(w http.ResponseWriter, r *http.Request, op string, fields []string, seed uint64,
	fn func(m *model.Model, xs []*tensor.Tensor, noise *model.SeededNoise) (*result, error)) {
	raw, err := s.readImages(w, r, fields...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.run(w, r, op, func(m *model.Model) (*result, error) {
		noise := model.NewSeededNoise(seed)
		xs, err := s.decodeInputs(raw, fields, noise)
		if err != nil {
			return nil, err
		}
		return fn(m, xs, noise)
	})
}

// reconstruct: POST /api/reconstruct[?seed=1&pixels=default] with one image. The
// answer shows the model's input (the upload after preprocessing) and its
// reconstruction side by side.
func (s *Server) reconstruct(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r.URL.Query())
	seed := q.seed()
	mode := q.pixels()
	if err := q.done(); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.runOnImages(w, r, "reconstruct", []string{"image"}, seed, func(m *model.Model, xs []*tensor.Tensor, noise *model.SeededNoise) (*result, error) {
		rec := eval.Reconstruct(m, xs[0], mode, noise, noise.Rand())
		g, err := report.ReconGrid(xs[0], rec, 0, 0)
		if err != nil {
			return nil, err
		}
		return pngResult(g, 1, seed)
	})
}

// interpolate: POST /api/interpolate[?steps=8&method=lerp&seed=1&pixels=default] with
// two images (multipart fields a and b). The answer is one row of steps images.
func (s *Server) interpolate(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r.URL.Query())
	steps := q.intIn("steps", 8, 2, s.opts.MaxSteps)
	ms, _ := q.get("method")
	method, merr := eval.ParseInterpMethod(ms)
	seed := q.seed()
	mode := q.pixels()
	err := q.done()
	if err == nil && merr != nil {
		err = badField("method", "must be lerp or slerp, got %q", ms)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.runOnImages(w, r, "interpolate", []string{"a", "b"}, seed, func(m *model.Model, xs []*tensor.Tensor, noise *model.SeededNoise) (*result, error) {
		strip, err := eval.Interpolate(m, xs[0], xs[1], steps, method, mode, noise.Rand())
		if err != nil {
			return nil, err
		}
		return gridResult(strip, steps, steps, seed)
	})
}

// traverse: POST /api/traverse?keep=2[&n=8&temp=0.7&seed=1&nrow=8&pixels=default]
// with one image. The answer is n images that share the image's top keep groups.
func (s *Server) traverse(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r.URL.Query())
	g := s.cfg.NumGroups()
	keep := q.intIn("keep", min(1, g), 0, g)
	n := q.intIn("n", 8, 1, s.opts.MaxN)
	t := q.temp("temp", 0.7, s.opts.MaxTemp)
	seed := q.seed()
	nrow := q.intIn("nrow", n, 0, s.opts.MaxN)
	mode := q.pixels()
	if err := q.done(); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.runOnImages(w, r, "traverse", []string{"image"}, seed, func(m *model.Model, xs []*tensor.Tensor, noise *model.SeededNoise) (*result, error) {
		imgs, err := eval.Traverse(m, xs[0], keep, t, n, mode, noise, noise.Rand())
		if err != nil {
			return nil, err
		}
		return gridResult(imgs, nrow, n, seed)
	})
}

// readImages reads the uploaded images named fields: the raw body (Content-Type
// image/png or image/jpeg; one field only) or a multipart form with exactly those
// fields. The header of each is checked (format, dimensions) here; decoding happens
// in the worker, so that at most Workers images are decoded at a time.
func (s *Server) readImages(w http.ResponseWriter, r *http.Request, fields ...string) ([][]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes)
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt = ""
	}
	out := make([][]byte, len(fields))
	switch mt {
	case "image/png", "image/jpeg":
		if len(fields) != 1 {
			return nil, badField(fields[0], "this route takes %d images: send a multipart/form-data body with the fields %s", len(fields), strings.Join(fields, " and "))
		}
		b, err := s.readAll(r.Body, fields[0])
		if err != nil {
			return nil, err
		}
		out[0] = b
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, badField("Content-Type", "multipart/form-data without a boundary")
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, badField("Content-Type", "%v", err)
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, badField(fields[0], "the request body is larger than the limit of %d bytes", s.opts.MaxUploadBytes)
				}
				return nil, badField("body", "reading the multipart form: %v", err)
			}
			name := p.FormName()
			i := indexOf(fields, name)
			if i < 0 {
				return nil, badField(name, "unknown field (want %s)", strings.Join(fields, ", "))
			}
			if out[i] != nil {
				return nil, badField(name, "given twice")
			}
			b, err := s.readAll(p, name)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
	default:
		return nil, badField("Content-Type", "send the image as the body with Content-Type image/png or image/jpeg, or as a multipart/form-data field; got %q", ct)
	}
	for i, b := range out {
		if b == nil {
			return nil, badField(fields[i], "missing image")
		}
		if err := s.checkHeader(b, fields[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) readAll(r io.Reader, field string) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badField(field, "the request body is larger than the limit of %d bytes", s.opts.MaxUploadBytes)
		}
		return nil, badField(field, "reading the upload: %v", err)
	}
	if len(b) == 0 {
		return nil, badField(field, "empty image")
	}
	return b, nil
}

// checkHeader checks the format and the dimensions an image declares.
func (s *Server) checkHeader(b []byte, field string) error {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return badField(field, "not a PNG or JPEG image: %v", err)
	}
	if format != "png" && format != "jpeg" {
		return badField(field, "%s images are not accepted: send PNG or JPEG", format)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > s.opts.MaxSide || cfg.Height > s.opts.MaxSide {
		return badField(field, "image is %d×%d pixels; each side must be from 1 to %d", cfg.Width, cfg.Height, s.opts.MaxSide)
	}
	return nil
}

// decodeInputs decodes the uploads and prepares them as model inputs.
func (s *Server) decodeInputs(raw [][]byte, fields []string, noise *model.SeededNoise) ([]*tensor.Tensor, error) {
	xs := make([]*tensor.Tensor, len(raw))
	for i, b := range raw {
		x, err := s.decodeUpload(b, fields[i], noise.Rand())
		if err != nil {
			return nil, err
		}
		xs[i] = x
	}
	return xs, nil
}

// decodeUpload decodes one uploaded image and prepares it as a model input of
// shape 1×H×W×C (the model's input shape). The header is checked again here, before
// any pixel is decoded, so that no caller can reach the decoder with an image larger
// than MaxSide×MaxSide: the decoded image's memory is bounded by the limit, not by
// what the upload declares.
func (s *Server) decodeUpload(b []byte, field string, rng *mrand.Rand) (*tensor.Tensor, error) {
	if err := s.checkHeader(b, field); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, badField(field, "not a valid image: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 1 || r.Dy() < 1 || r.Dx() > s.opts.MaxSide || r.Dy() > s.opts.MaxSide {
		return nil, badField(field, "image decodes to %d×%d pixels; each side must be from 1 to %d", r.Dx(), r.Dy(), s.opts.MaxSide)
	}
	x, err := eval.ImageInput(s.cfg, img, rng)
	if err != nil {
		return nil, badField(field, "%v", err)
	}
	return x, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/serve"
)

func init() {
	register(&command{name: "serve", summary: "serve a checkpoint as a web page and JSON/PNG API (sample, reconstruct, interpolate, traverse)", run: runServe})
}

// tokenEnv is the environment variable read when --token is not given.
const tokenEnv = "NVAE_TOKEN"

func runServe(args []string, stdout io.Writer) error {
	fs := newFlags("serve", "--checkpoint PATH [--addr 127.0.0.1:8080] [--token T | --insecure]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	token := fs.String("token", "", "require 'Authorization: Bearer TOKEN' on /api/ and /metrics (default from $"+tokenEnv+")")
	insecure := fs.Bool("insecure", false, "allow listening on a non-loopback address without a token")
	workers := fs.Int("workers", 1, "inference workers (each holds a copy of the model)")
	queue := fs.Int("queue", 8, "requests that may wait for a worker; beyond, 503 with Retry-After")
	timeout := fs.Duration("timeout", 60*time.Second, "per-request deadline, waiting included")
	maxN := fs.Int("max_n", 64, "largest n of a sample or traversal")
	maxSteps := fs.Int("max_steps", 16, "largest number of interpolation steps")
	maxTemp := fs.Float64("max_temp", 2, "largest temperature")
	maxUpload := fs.Int64("max_upload", 8<<20, "largest request body in bytes")
	maxSide := fs.Int("max_side", 2048, "largest width or height of an uploaded image")
	readjust := fs.Bool("readjust_bn", false, "re-estimate the decoder's BN statistics at --readjust_temp before serving")
	rtemp := fs.Float64("readjust_temp", 0.7, "temperature of the --readjust_bn passes")
	iters := fs.Int("readjust_iters", 500, "generative passes for --readjust_bn")
	rbatch := fs.Int("readjust_batch", 16, "batch size of the --readjust_bn passes")
	jsonLogs := fs.Bool("json_logs", false, "write logs as JSON lines instead of text")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *token == "" {
		*token = os.Getenv(tokenEnv)
	}
	if err := serve.CheckBind(*addr, *token, *insecure); err != nil {
		return err
	}
	if *readjust && (!(*rtemp > 0) || math.IsInf(*rtemp, 0)) {
		return fmt.Errorf("--readjust_temp must be positive, got %v", *rtemp)
	}
	var h slog.Handler = slog.NewTextHandler(stdout, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(stdout, nil)
	}
	log := slog.New(h)

	m, _, err := modelfile.LoadWeights(*ckpt)
	if err != nil {
		return err
	}
	meta := map[string]string{"checkpoint": *ckpt}
	if *readjust {
		log.Info("re-adjusting BN statistics", "passes", *iters, "batch", *rbatch, "temp", *rtemp)
		if err := eval.ReadjustBN(m, *iters, *rbatch, float32(*rtemp), model.NewSeededNoise(1)); err != nil {
			return err
		}
		meta["bn_readjusted"] = fmt.Sprintf("temp=%g iters=%d batch=%d", *rtemp, *iters, *rbatch)
	}
	s, err := serve.New(m, serve.Options{
		Workers: *workers, QueueSize: *queue, Timeout: *timeout, MaxN: *maxN, MaxSteps: *maxSteps,
		MaxTemp: *maxTemp, MaxUploadBytes: *maxUpload, MaxSide: *maxSide, Token: *token, Logger: log, Meta: meta,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve.ListenAndServe(ctx, *addr, s, func(a net.Addr) {
		log.Info("serving", "url", "http://"+a.String()+"/", "checkpoint", *ckpt, "workers", *workers, "token", *token != "")
	})
}

package report

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func decodePNGSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a valid PNG: %v", err)
	}
	b := img.Bounds()
	return b.Dx(), b.Dy()
}

func TestPlotCurves(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	steps := []float64{0, 100, 200, 300, 400, 500}
	train := Series{Name: "train", Panel: "nelbo", X: steps, Y: []float64{5000, 900, nan, 300, 250, 240}}
	val := Series{Name: "val", Panel: "nelbo", X: []float64{250, 500}, Y: []float64{320, 260}}
	kl := Series{Name: "kl", X: steps, Y: []float64{inf, 40, 35, -inf, 33, 32}}
	lr := Series{Name: "lr", X: steps, Y: []float64{0, 2e-3, 4e-3, 6e-3, 8e-3, 1e-2}}
	flat := Series{Name: "images/s", X: steps, Y: []float64{12, 12, 12, 12, 12, 12}}
	empty := Series{Name: "recon"}
	allBad := Series{Name: "bad", X: []float64{1, nan, 3}, Y: []float64{nan, 1, inf}}
	ragged := Series{Name: "ragged", X: []float64{1, 2, 3}, Y: []float64{1}}
	flatLog := Series{Name: "flatlog", X: steps, Y: []float64{3, 3, 3, 3, 3, 3}}
	negLog := Series{Name: "neglog", X: steps[:2], Y: []float64{-1, 0}}

	tests := []struct {
		name         string
		series       []Series
		opts         PlotOptions
		wantW, wantH int
	}{
		{"six panels default", []Series{train, val, kl, lr, flat, empty, allBad},
			PlotOptions{LogY: []string{"nelbo", "lr"}}, 960, 3 * 320},
		{"title and 3 cols", []Series{train, kl, lr, flat},
			PlotOptions{Title: "run 1", Cols: 3, PanelWidth: 300, PanelHeight: 200}, 900, 2*200 + TitleHeight},
		{"single panel", []Series{kl}, PlotOptions{}, 480, 320},
		{"no series", nil, PlotOptions{Title: "empty run"}, 480, 320 + TitleHeight},
		{"degenerate log", []Series{flatLog, negLog, ragged},
			PlotOptions{Cols: 1, LogY: []string{"flatlog", "neglog"}}, 480, 3 * 320},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".png")
			if err := PlotCurves(path, tc.series, tc.opts); err != nil {
				t.Fatal(err)
			}
			if w, h := decodePNGSize(t, path); w != tc.wantW || h != tc.wantH {
				t.Errorf("size %dx%d, want %dx%d", w, h, tc.wantW, tc.wantH)
			}
		})
	}
	if err := PlotCurves(filepath.Join(dir, "x.png"), nil, PlotOptions{PanelWidth: 10}); err == nil {
		t.Error("tiny panel: no error")
	}
}

func TestPlotDrawsSomething(t *testing.T) {
	img, err := RenderCurves([]Series{{Name: "loss", X: []float64{0, 1, 2}, Y: []float64{3, 2, 1}}}, PlotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Count non-white pixels: axes, labels and the line must be there.
	b := img.Bounds()
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0x8000 || g < 0x8000 || bl < 0x8000 {
				dark++
			}
		}
	}
	if dark < 500 || dark > b.Dx()*b.Dy()/4 {
		t.Errorf("%d dark pixels of %d: plot looks empty or filled", dark, b.Dx()*b.Dy())
	}
}

func TestSeriesFromRecords(t *testing.T) {
	recs := []map[string]float64{
		{"step": 100, "loss": 5, "kl": 1},
		{"step": 200, "loss": 4},
		{"loss": 99}, // no step
		{"step": 300, "loss": 3, "kl": 0.5},
		{"step": math.NaN(), "loss": 7},
		// resumed from the checkpoint at step 200: 300 is logged again
		{"step": 300, "loss": 2.5, "kl": 0.4},
		{"step": 400, "loss": 2},
	}
	got := SeriesFromRecords(recs, "step", "loss", "kl", "missing")
	want := []Series{
		{Name: "loss", X: []float64{100, 200, 300, 400}, Y: []float64{5, 4, 2.5, 2}},
		{Name: "kl", X: []float64{100, 300}, Y: []float64{1, 0.4}},
		{Name: "missing"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// Going back further drops everything from the new step on.
	got = SeriesFromRecords([]map[string]float64{
		{"step": 1, "a": 1}, {"step": 2, "a": 2}, {"step": 3, "a": 3}, {"step": 2, "a": 20},
	}, "step", "a")
	if w := []float64{1, 2}; !reflect.DeepEqual(got[0].X, w) || got[0].Y[1] != 20 {
		t.Errorf("resume rewind: %+v", got[0])
	}
}

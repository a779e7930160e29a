package report

import (
	"fmt"
	"image"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one curve: Y against X (usually the global step).
type Series struct {
	// Name labels the curve (legend entry when its panel holds several curves).
	Name string
	// Panel names the panel to draw in: series with the same Panel share axes. Empty
	// means Name, i.e. one panel per series.
	Panel string
	// X and Y are the points; only the first min(len(X), len(Y)) are used, and points
	// with a NaN or infinite coordinate are skipped.
	X, Y []float64
}

// PlotOptions controls PlotCurves. The zero value is usable.
type PlotOptions struct {
	// Title, if set, is drawn in a TitleHeight-pixel strip above the panels.
	Title string
	// XLabel labels every panel's x axis; default "step".
	XLabel string
	// Cols is the number of panels per row; default 2 (1 when there is one panel).
	Cols int
	// PanelWidth and PanelHeight are each panel's size in pixels; default 480×320.
	PanelWidth, PanelHeight int
	// LogY lists panels drawn with a logarithmic y axis; their non-positive points are
	// skipped too.
	LogY []string
}

// TitleHeight is the height in pixels of the strip that PlotOptions.Title adds.
const TitleHeight = 32

const plotDPI = 96

// PlotCurves draws series as a grid of panels, one per distinct Panel (in order of
// first appearance), and writes it as a PNG at path (atomically, see SavePNG). The image
// is Cols·PanelWidth pixels wide and rows·PanelHeight (+ TitleHeight with a title)
// high, where rows = ceil(panels / Cols). A panel whose series have no finite points is
// drawn with empty axes and "(no data)" in its title; with no series at all, a single
// empty panel is drawn.
func PlotCurves(path string, series []Series, opts PlotOptions) error {
	img, err := RenderCurves(series, opts)
	if err != nil {
		return err
	}
	return SavePNG(path, img)
}

// RenderCurves is PlotCurves without the file: it returns the rendered image.
func RenderCurves(series []Series, opts PlotOptions) (img image.Image, err error) {
	if opts.XLabel == "" {
		opts.XLabel = "step"
	}
	if opts.PanelWidth <= 0 {
		opts.PanelWidth = 480
	}
	if opts.PanelHeight <= 0 {
		opts.PanelHeight = 320
	}
	if opts.PanelWidth < 64 || opts.PanelHeight < 64 || opts.PanelWidth > 8192 || opts.PanelHeight > 8192 {
		return nil, fmt.Errorf("report: plot: panel size %dx%d out of range [64, 8192]",
			opts.PanelWidth, opts.PanelHeight)
	}

	// Group series into panels in order of first appearance.
	var names []string
	groups := map[string][]Series{}
	for _, s := range series {
		p := s.Panel
		if p == "" {
			p = s.Name
		}
		if _, ok := groups[p]; !ok {
			names = append(names, p)
		}
		groups[p] = append(groups[p], s)
	}
	if len(names) == 0 {
		names = []string{""}
	}
	cols := opts.Cols
	if cols <= 0 {
		cols = 2
	}
	cols = min(cols, len(names))
	rows := (len(names) + cols - 1) / cols
	titleH := 0
	if opts.Title != "" {
		titleH = TitleHeight
	}
	if cols*opts.PanelWidth > 16384 || rows*opts.PanelHeight+titleH > 16384 {
		return nil, fmt.Errorf("report: plot: %d panels too large an image", len(names))
	}

	// gonum/plot panics on some degenerate inputs; never let that cross our API.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("report: plot: %v", r)
		}
	}()

	rgba := image.NewRGBA(image.Rect(0, 0, cols*opts.PanelWidth, rows*opts.PanelHeight+titleH))
	canvas := vgimg.NewWith(vgimg.UseImage(rgba), vgimg.UseDPI(plotDPI))
	dc := draw.New(canvas)
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	if titleH > 0 {
		sty := plot.New().Title.TextStyle
		sty.Font.Size = vg.Points(14)
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YCenter
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - px(titleH)/2}, opts.Title)
		dc = draw.Crop(dc, 0, 0, 0, -px(titleH))
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadTop: px(6), PadBottom: px(4), PadLeft: px(4), PadRight: px(12),
		PadX: px(16), PadY: px(10)}
	for i, name := range names {
		p, err := panelPlot(name, groups[name], opts.XLabel, slices.Contains(opts.LogY, name))
		if err != nil {
			return nil, err
		}
		p.Draw(tiles.At(dc, i%cols, i/cols))
	}
	return canvas.Image(), nil
}

// panelPlot builds one panel.
func panelPlot(name string, series []Series, xLabel string, logY bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = name
	p.X.Label.Text = xLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	ymin, ymax := math.Inf(1), math.Inf(-1)
	points := 0
	for k, s := range series {
		n := min(len(s.X), len(s.Y))
		xys := make(plotter.XYs, 0, n)
		for i := range n {
			x, y := s.X[i], s.Y[i]
			if !finite(x) || !finite(y) || (logY && y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			ymin, ymax = min(ymin, y), max(ymax, y)
		}
		if len(xys) == 0 {
			continue
		}
		points += len(xys)
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("report: plot %q: %w", s.Name, err)
		}
		line.Color = plotutil.Color(k)
		line.Width = vg.Points(1.2)
		p.Add(line)
		if len(xys) <= 20 {
			// sparse series (evaluations) get markers, so a single point is visible
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("report: plot %q: %w", s.Name, err)
			}
			sc.GlyphStyle.Color = line.Color
			sc.GlyphStyle.Radius = vg.Points(2.5)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
		if len(series) > 1 {
			p.Legend.Add(s.Name, line)
		}
	}
	if points == 0 {
		if name == "" {
			p.Title.Text = "(no data)"
		} else {
			p.Title.Text = name + " (no data)"
		}
		p.X.Min, p.X.Max = 0, 1
		p.Y.Min, p.Y.Max = 0, 1
		return p, nil
	}
	if logY {
		if ymin == ymax {
			p.Y.Min, p.Y.Max = ymin/2, ymax*2
		}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return p, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// SeriesFromRecords turns metrics-log records (ReadJSONL) into one Series per key,
// with X taken from xKey (e.g. "step"). Records lacking xKey or a key are skipped for
// that key; records with a non-finite X are skipped. If X goes back (a run resumed from an earlier checkpoint appended to the
// same log), the points at or after the new X are dropped from the series first, so the
// latest run wins and curves stay single-valued.
func SeriesFromRecords(recs []map[string]float64, xKey string, keys ...string) []Series {
	out := make([]Series, len(keys))
	for i, k := range keys {
		out[i].Name = k
	}
	for _, r := range recs {
		x, ok := r[xKey]
		if !ok || !finite(x) {
			continue
		}
		for i, k := range keys {
			y, ok := r[k]
			if !ok {
				continue
			}
			s := &out[i]
			if n := len(s.X); n > 0 && x <= s.X[n-1] {
				cut, _ := slices.BinarySearch(s.X, x) // X is kept increasing
				s.X, s.Y = s.X[:cut], s.Y[:cut]
			}
			s.X = append(s.X, x)
			s.Y = append(s.Y, y)
		}
	}
	return out
}

package bench

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot draws each policy's p95 detection lag against its Admin API calls
// per job, labelled, into a PNG file. Both axes are logarithmic: the
// policies lie orders of magnitude apart.
func Plot(r *Report, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("jobwatch bench: %d jobs, seed %d", r.Workload.Jobs, r.Workload.Seed)
	p.X.Label.Text = "Admin API calls per job"
	p.Y.Label.Text = "p95 detection lag (s)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())

	xys := make(plotter.XYs, 0, len(r.Policies))
	labels := make([]string, 0, len(r.Policies))
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, pr := range r.Policies {
		// A log axis cannot show 0: clamp to a floor below every real value.
		x, y := math.Max(pr.APICallsPerJob, 0.1), math.Max(pr.LagP95Seconds, 0.1)
		xys = append(xys, plotter.XY{X: x, Y: y})
		labels = append(labels, fmt.Sprintf(" %s (%.1f, %.1fs)", pr.Name, pr.APICallsPerJob, pr.LagP95Seconds))
		minX, maxX, minY, maxY = math.Min(minX, x), math.Max(maxX, x), math.Min(minY, y), math.Max(maxY, y)
	}
	if len(xys) == 0 {
		return fmt.Errorf("plot %s: no policies in the report", file)
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", file, err)
	}
	sc.Shape = draw.CircleGlyph{}
	sc.Radius = vg.Points(4)
	sc.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return fmt.Errorf("plot %s: %w", file, err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(9)
		lb.TextStyle[i].YAlign = -0.5
	}
	lb.Offset = vg.Point{X: vg.Points(6)}
	p.Add(sc, lb)
	// From a power of ten below the points (a labelled tick), with room
	// for the labels, which run to the right of their points.
	floor10 := func(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v))) }
	p.X.Min, p.X.Max = floor10(minX), maxX*6
	p.Y.Min, p.Y.Max = floor10(minY), maxY*1.5
	if err := p.Save(18*vg.Centimeter, 12*vg.Centimeter, file); err != nil {
		return fmt.Errorf("plot %s: %w", file, err)
	}
	return nil
}

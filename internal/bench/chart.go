package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one line of a chart panel.
type series struct {
	name  string
	color string
	ys    []float64
}

// panel is one chart: a y axis over the record counts.
type panel struct {
	title  string
	unit   string
	series []series
}

// WriteScaleSVG draws the scale measurements as an SVG image: anchor
// throughput, read latency, and proof size and verification time against
// the number of records (log scale).
func WriteScaleSVG(w io.Writer, pts []ScalePoint) error {
	if len(pts) == 0 {
		return fmt.Errorf("no measurements to plot")
	}
	xs := make([]float64, len(pts))
	get := func(f func(ScalePoint) float64) []float64 {
		out := make([]float64, len(pts))
		for i, p := range pts {
			out[i] = f(p)
		}
		return out
	}
	for i, p := range pts {
		xs[i] = float64(p.Records)
	}
	panels := []panel{
		{title: "Anchor throughput", unit: "committed tx/s", series: []series{{"tx/s", "#1f77b4", get(func(p ScalePoint) float64 { return p.AnchorTxPerS })}}},
		{title: "Read latency (10 KB, logged)", unit: "ms", series: []series{
			{"p50", "#2ca02c", get(func(p ScalePoint) float64 { return p.ReadP50 })},
			{"p99", "#d62728", get(func(p ScalePoint) float64 { return p.ReadP99 })}}},
		{title: "State proof of a record", unit: "bytes / µs", series: []series{
			{"proof bytes", "#9467bd", get(func(p ScalePoint) float64 { return float64(p.ProofBytes) })},
			{"verify p50 µs", "#ff7f0e", get(func(p ScalePoint) float64 { return p.VerifyP50 * 1000 })}}},
	}
	const pw, ph, left, top, bottom = 320, 260, 60, 40, 50
	width := pw * len(panels)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, ph+20, width, ph+20)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	lx0, lx1 := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if lx1 == lx0 {
		lx1 = lx0 + 1
	}
	for i, p := range panels {
		ox := i * pw
		plotW, plotH := float64(pw-left-20), float64(ph-top-bottom)
		ymax := 0.0
		for _, s := range p.series {
			for _, y := range s.ys {
				ymax = math.Max(ymax, y)
			}
		}
		ymax = niceCeil(ymax)
		xAt := func(x float64) float64 { return float64(ox+left) + (math.Log10(x)-lx0)/(lx1-lx0)*plotW }
		yAt := func(y float64) float64 { return float64(top) + plotH - y/ymax*plotH }
		fmt.Fprintf(&b, `<text x="%d" y="18" font-size="13" font-weight="bold">%s</text>`+"\n", ox+left, p.title)
		// Axes and grid.
		for g := 0; g <= 4; g++ {
			y := ymax * float64(g) / 4
			fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", ox+left, float64(ox+left)+plotW, yAt(y), yAt(y))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", ox+left-4, yAt(y)+4, short(y))
		}
		for _, x := range xs {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", xAt(x), float64(top)+plotH+16, short(x))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">records (log scale)</text>`+"\n", float64(ox+left)+plotW/2, float64(top)+plotH+32)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", ox+left, top-8, p.unit)
		for k, s := range p.series {
			var pts []string
			for j, y := range s.ys {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(xs[j]), yAt(y)))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
			for j, y := range s.ys {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s at %s records</title></circle>`+"\n", xAt(xs[j]), yAt(y), s.color, s.name, short(y), short(xs[j]))
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s">%s</text>`+"\n", float64(ox+left)+plotW-90, top+14+14*k, s.color, s.name)
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e4:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

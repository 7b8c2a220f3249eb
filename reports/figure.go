package reports

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/lens-go/lens/harness/result"
)

// figure3Methods are Figure 3's bars, in the paper's order.
var figure3Methods = []struct{ method, label string }{
	{"NetShare", "NetShare"}, {"TrafficLLM", "TrafficLLM (stand-in)"}, {"Lens", "Lens (ours)"},
}

var figure3Detectors = []struct{ key, label string }{{"DT", "Decision tree"}, {"SVM", "SVM"}, {"MLP", "MLP"}}

// WriteFigure3 draws Figure 3 (the fuzzing test: accuracy and F1 of each
// detector trained on each method's generated headers, tested on real
// Task 11 traffic) as dir/figure3.png and dir/figure3.svg, one panel per
// metric, grouped by detector. Bars without a run are left out; the title
// says when the data are synthetic.
func WriteFigure3(set *result.Set, dir string) ([]string, error) {
	synthetic := false
	for _, r := range set.Runs {
		if r.Kind == result.KindFuzz && r.Prov.Synthetic {
			synthetic = true
		}
	}
	colors := []color.Color{color.RGBA{0x99, 0x99, 0x99, 0xff}, color.RGBA{0x4c, 0x72, 0xb0, 0xff}, color.RGBA{0xdd, 0x84, 0x52, 0xff}}
	var files []string
	for _, metric := range []string{"AC", "F1"} {
		p := plot.New()
		title := "Figure 3: fuzzing test on Task 11, " + map[string]string{"AC": "accuracy", "F1": "macro-F1"}[metric]
		if synthetic {
			title += " (SYNTHETIC DATA)"
		}
		p.Title.Text = title
		p.Y.Label.Text = metric
		p.Y.Min, p.Y.Max = 0, 1.25 // room for the legend above the bars
		names := make([]string, len(figure3Detectors))
		for i, d := range figure3Detectors {
			names[i] = d.label
		}
		w := vg.Points(18)
		for mi, m := range figure3Methods {
			vals := make(plotter.Values, len(figure3Detectors))
			for di, d := range figure3Detectors {
				runs := set.Find(result.Run{Kind: result.KindFuzz, Method: m.method, Task: 11, Detector: d.key})
				if s := stat(runs, metric); s != nil {
					vals[di] = s.Mean
				}
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, err
			}
			bars.LineStyle.Width = 0
			bars.Color = colors[mi%len(colors)]
			bars.Offset = vg.Length(mi-1) * w
			p.Add(bars)
			p.Legend.Add(m.label, bars)
		}
		p.Legend.Top = true
		p.NominalX(names...)
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, fmt.Sprintf("figure3-%s.%s", metric, ext))
			if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
				return nil, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

package harness

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/harness/detect"
	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/netbench"
)

// Generation fields, as the registry names them (Table 6's columns).
var genFields = []string{"src_ip", "dst_ip", "src_port", "dst_port", "length"}

// genSample is one packet of one flow: the unit of the generation tasks
// (the paper generates header fields of one packet sampled per flow).
type genSample struct {
	Flow    int // corpus index
	Packet  int // index within the flow's first packets
	Dataset string
	Label11 string // Task 11 label (benign/malicious) where the flow has one
	Rec     baselines.HeaderRecord
}

// samplePacket picks the packet of flow idx used for generation: a
// deterministic function of the flow index and the seed.
func samplePacket(idx, n int, seed uint64) int {
	if n <= 1 {
		return 0
	}
	return int(splitmix(uint64(idx)^seed) % uint64(n))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// headerOf returns packet i of f as a header record (addresses oriented by
// the packet's direction).
func headerOf(f *netbench.Flow, i int) baselines.HeaderRecord {
	h := f.Headers[i]
	r := baselines.HeaderRecord{Src: f.Src, Dst: f.Dst, SrcPort: h.SrcPort, DstPort: h.DstPort, Proto: h.Proto, Len: h.Len}
	if h.Dir == 1 {
		r.Src, r.Dst = f.Dst, f.Src
	}
	return r
}

// genSamples collects one sampled packet per flow of a split.
func (h *Harness) genSamples(split string) ([]genSample, error) {
	var out []genSample
	i := 0
	err := h.corpus.Flows(func(f *netbench.Flow) error {
		idx := i
		i++
		if idx >= len(h.splits.Assign) || h.splits.Assign[idx] != split || len(f.Headers) == 0 || !f.Src.Is4() {
			return nil
		}
		s := genSample{Flow: idx, Dataset: h.splits.Dataset[idx]}
		if d, err := h.reg.Dataset(s.Dataset); err == nil {
			if c, err := d.Class(h.splits.Class[idx]); err == nil {
				s.Label11, _ = c.Label(11)
			}
		}
		s.Packet = samplePacket(idx, len(f.Headers), h.cfg.SynthSeed)
		s.Rec = headerOf(f, s.Packet)
		out = append(out, s)
		return nil
	})
	return out, err
}

// fieldValue is a record's value of a generation field, as compared exactly.
func fieldValue(r baselines.HeaderRecord, field string) string {
	switch field {
	case "src_ip":
		return r.Src.String()
	case "dst_ip":
		return r.Dst.String()
	case "src_port":
		return strconv.Itoa(int(r.SrcPort))
	case "dst_port":
		return strconv.Itoa(int(r.DstPort))
	case "length":
		return strconv.Itoa(r.Len)
	}
	return ""
}

// generationMetrics compares generated and real records field by field:
// JSD and TVD over exact values, and NetShare's rank JSD for addresses.
func generationMetrics(real, gen []baselines.HeaderRecord, field string) result.Metrics {
	var rv, gv []string
	for _, r := range real {
		rv = append(rv, fieldValue(r, field))
	}
	for _, g := range gen {
		gv = append(gv, fieldValue(g, field))
	}
	p, q := metrics.Empirical(rv), metrics.Empirical(gv)
	m := result.Metrics{"JSD": metrics.JSD(p, q), "TVD": metrics.TVD(p, q)}
	if field == "src_ip" || field == "dst_ip" {
		m["JSD_rank"] = metrics.RankJSD(rv, gv)
	}
	return m
}

// features turns a header record into the detectors' numeric features:
// address octets, ports, protocol and length.
func features(r baselines.HeaderRecord) []float64 {
	s, d := r.Src.As4(), r.Dst.As4()
	f := make([]float64, 0, 12)
	for _, b := range s {
		f = append(f, float64(b))
	}
	for _, b := range d {
		f = append(f, float64(b))
	}
	return append(f, float64(r.SrcPort), float64(r.DstPort), float64(r.Proto), float64(r.Len))
}

// fuzz trains the three detectors on generated records (label 1 =
// malicious) and tests them on the real Task 11 test records (Figure 3).
func (h *Harness) fuzz(method string, gen []baselines.HeaderRecord, genLabels []int, prov result.Provenance) error {
	test, err := h.genSamples(netbench.SplitTest)
	if err != nil {
		return err
	}
	var X [][]float64
	var y []int
	for i, g := range gen {
		X = append(X, features(g))
		y = append(y, genLabels[i])
	}
	var tX [][]float64
	var ty []string
	for _, s := range test {
		if s.Label11 == "" {
			continue
		}
		tX = append(tX, features(s.Rec))
		ty = append(ty, s.Label11)
	}
	if len(X) == 0 || len(tX) == 0 {
		return fmt.Errorf("fuzzing test for %s: %d generated and %d real test records", method, len(X), len(tX))
	}
	for _, d := range []detect.Detector{&detect.Tree{MaxDepth: 8}, &detect.SVM{Seed: h.cfg.SynthSeed}, &detect.MLP{Seed: h.cfg.SynthSeed}} {
		if err := d.Fit(X, y); err != nil {
			return fmt.Errorf("%s detector on %s's records: %w", d.Name(), method, err)
		}
		pred := make([]string, len(tX))
		for i, x := range tX {
			pred[i] = map[int]string{0: "benign", 1: "malicious"}[d.Predict(x)]
		}
		c := metrics.Classify([]string{"benign", "malicious"}, ty, pred)
		h.set.Put(result.Run{ID: hashOf([]any{"fuzz", method, d.Name(), prov.ConfigHash}), Kind: result.KindFuzz, Method: method, Task: 11,
			Detector: d.Name(), Seed: h.cfg.SynthSeed, Metrics: result.Metrics{"AC": c.Accuracy, "F1": c.MacroF1}, Prov: prov})
	}
	return nil
}

// netshare runs the NetShare baseline: a header GAN conditioned on the
// dataset for Table 6, and one conditioned on the Task 11 label for the
// fuzzing test (Figure 3).
func (h *Harness) netshare() error {
	train, err := h.genSamples(netbench.SplitTrain)
	if err != nil {
		return err
	}
	test, err := h.genSamples(netbench.SplitTest)
	if err != nil {
		return err
	}
	cfg := baselines.DefaultNetShareConfig()
	cfg.Seed = h.cfg.SynthSeed
	cfg.Steps = h.preset.NetShareSteps
	dsIndex := map[string]int{}
	var recs []baselines.HeaderRecord
	var cond []int
	for _, s := range train {
		if _, ok := dsIndex[s.Dataset]; !ok {
			dsIndex[s.Dataset] = len(dsIndex)
		}
		recs = append(recs, s.Rec)
		cond = append(cond, dsIndex[s.Dataset])
	}
	if len(recs) == 0 {
		return fmt.Errorf("netshare: no training records")
	}
	start := time.Now()
	ns, err := baselines.TrainNetShare(recs, cond, len(dsIndex), cfg)
	if err != nil {
		return err
	}
	prov := h.provenance(struct {
		Method string
		Cfg    baselines.NetShareConfig
	}{"NetShare", cfg})
	prov.WallSeconds = time.Since(start).Seconds()
	realBy := map[string][]baselines.HeaderRecord{}
	for _, s := range test {
		realBy[s.Dataset] = append(realBy[s.Dataset], s.Rec)
	}
	for ds, real := range realBy {
		ci, ok := dsIndex[ds]
		if !ok {
			continue
		}
		gen := ns.Generate(ci, len(real))
		for _, field := range genFields {
			h.set.Put(result.Run{ID: hashOf([]any{"generate", "NetShare", ds, field, prov.ConfigHash}), Kind: result.KindGenerate, Method: "NetShare",
				Dataset: ds, Field: field, Seed: h.cfg.SynthSeed, Metrics: generationMetrics(real, gen, field), Prov: prov})
		}
	}
	// Figure 3: condition on the Task 11 label, generate as many records as
	// there are Task 11 training flows, with their labels.
	var frecs []baselines.HeaderRecord
	var fcond []int
	for _, s := range train {
		if s.Label11 == "" {
			continue
		}
		frecs = append(frecs, s.Rec)
		fcond = append(fcond, map[string]int{"benign": 0, "malicious": 1}[s.Label11])
	}
	if len(frecs) == 0 {
		return nil
	}
	fns, err := baselines.TrainNetShare(frecs, fcond, 2, cfg)
	if err != nil {
		return err
	}
	var gen []baselines.HeaderRecord
	var labels []int
	for _, c := range fcond {
		gen = append(gen, fns.Generate(c, 1)...)
		labels = append(labels, c)
	}
	return h.fuzz("NetShare", gen, labels, prov)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
)

func init() {
	commands["split"] = command{summary: "assign a corpus's flows to pretraining, finetuning train and test", run: runSplit}
	commands["audit"] = command{summary: "prove a corpus's splits leak nothing (exits non-zero on a leak)", run: runAudit}
	commands["stats"] = command{summary: "Table 9 (packets and tokens per flow) and Table 10 (split shares) of a corpus", run: runStats}
}

// openSplits opens a corpus, the registry that describes it
// (netbench.OpenRegistry: regPath, else the corpus's own registry.json,
// else the built-in one) and its splits (netbench.LoadSplits: the fixed
// split whatever the seed, else the seed's; a missing file is an error
// that says how to make it).
func openSplits(dir, regPath string, seed uint64) (*netbench.Corpus, *registry.Registry, *netbench.Splits, error) {
	c, err := netbench.OpenCorpus(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := netbench.OpenRegistry(c, regPath)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := netbench.LoadSplits(c, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, reg, s, nil
}

func runSplit(args []string) error {
	fs := newFlagSet("split", "[--seed S] [--group-by capture|5tuple] [--test-captures GLOB] [--pretrain train|unlabelled|DIR] CORPUS", `
Splits a corpus into pretraining, finetuning train and test flows, by flow,
never by packet, and writes the split into the corpus folder. Flow labels
must be DATASET/CLASS names of the corpus's registry: its own registry.json
(lens ingest --dataset), else the built-in NetBench one; a flow with another
label is an error that names it.

A fixed split is kept for every seed (CORPUS/splits-fixed.json): the one the
input gives (ROOT/train/ and ROOT/test/ folders, optional val/ and pretrain/;
NetBench <dataset>_<split>_flow.json file names), which lens ingest records
and this command records again (with other --pretrain choices), or the one
--test-captures makes: the captures it matches are the test split, every
other labelled flow trains. A fixed split keeps whole captures together.

Otherwise the split is drawn with the seed (CORPUS/splits-seedS.json; same
seed, same split): per dataset, flows that share a 5-tuple (or a capture,
under --group-by capture) stay together; the pretraining sample is the
dataset's registry share (Table 10's 60%), stratified by coarse category
only, CrossPlatform excluded; of the rest, --test-share is held out for
testing and the finetuning train set is the larger of the Table 10 share and
--finetune-flows, stratified by class.

--pretrain replaces the registry share: 'train' pretrains on the training
flows themselves (an overlap the splits file declares and lens audit allows;
test flows still never pretrain), 'unlabelled' on the corpus's flows without
a label, outside test and training captures, DIR on the captures ingested
from that folder (which then are in no other split).

Every later command (audit, stats, tokenizer train, pretrain, finetune,
baseline, reproduce) reads this file; none draws a split on its own.`)
	seed := fs.Uint64("seed", 1, "random seed of a drawn split (a fixed split ignores it)")
	ft := fs.Int("finetune-flows", 10000, "finetuning flows per dataset (the paper's ~10k) of a drawn split")
	ts := fs.Float64("test-share", 0.25, "share of the non-pretraining flows held out for test in a drawn split")
	groupBy := fs.String("group-by", "", "what stays together in one split: 5tuple (default, the paper's) or capture (a fixed split is always by capture)")
	testCaps := fs.String("test-captures", "", "fix the split: the captures whose name, ingest path or base name matches `GLOB` (shell pattern; * stops at /) are the test split")
	pretrain := fs.String("pretrain", "", "pretraining flows: train (the training flows, a declared overlap), unlabelled, or a `DIR` ingested into the corpus (default: the registry share, or the input's pretrain/ folder)")
	regPath := fs.String("registry", "", "registry JSON file (default: the corpus's own registry.json, else the built-in one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CORPUS")
	}
	c, err := netbench.OpenCorpus(fs.Arg(0))
	if err != nil {
		return err
	}
	reg, err := netbench.OpenRegistry(c, *regPath)
	if err != nil {
		return err
	}
	s, err := netbench.Split(c, reg, netbench.SplitConfig{Seed: *seed, FinetuneFlows: *ft, TestShare: *ts,
		GroupBy: *groupBy, TestCaptures: *testCaps, Pretrain: *pretrain})
	if err != nil {
		return err
	}
	if err := s.Save(fs.Arg(0)); err != nil {
		return err
	}
	for _, m := range s.Skipped {
		fmt.Fprintf(os.Stderr, "note: %s\n", m)
	}
	keys := make([]string, 0, len(s.Counts))
	for k := range s.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		name := k
		if strings.HasSuffix(k, "/") {
			name = k + "(none)"
		}
		fmt.Fprintf(tw, "%s\t%d\n", name, s.Counts[k])
	}
	tw.Flush()
	how := fmt.Sprintf("drawn with seed %d, by %s", s.Seed, s.Config.GroupBy)
	if s.Fixed {
		how = "fixed, given by " + s.GivenBy + ", by capture"
		seedSet := false
		fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
		if seedSet {
			how += "; --seed does not change a fixed split"
		}
	}
	if s.PretrainReuses != "" {
		how += "; pretraining reuses the " + s.PretrainReuses + " flows (declared)"
	}
	fmt.Printf("split %s written to %s (%s; unlabelled flows: %d)\n", s.Hash(), s.FileName(), how, s.Unlabelled)
	return nil
}

func runAudit(args []string) error {
	fs := newFlagSet("audit", "[--seed S] CORPUS", `
Checks a corpus's split (made by 'lens split', or the fixed split lens
ingest recorded): flows, identical flow texts and groups (5-tuples, or
captures when the split keeps captures together) shared between
pretraining, train, validation and test; the flows of a fixed split's test
captures in any other split; fine labels in pretraining contexts; and
prints class counts per split. Pretraining on the training flows is allowed
when the split declares it (lens split --pretrain train); any test leak
fails. Label words that the traffic itself carries in pretraining text (DNS
names, say) are listed but are not a leak. Exits non-zero on a leak.`)
	seed := fs.Uint64("seed", 1, "random seed of the splits (a fixed split is the same for every seed)")
	regPath := fs.String("registry", "", "registry JSON file (default: the corpus's own registry.json, else the built-in one)")
	verbose := fs.Bool("classes", false, "print class counts per split")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CORPUS")
	}
	c, reg, s, err := openSplits(fs.Arg(0), *regPath, *seed)
	if err != nil {
		return err
	}
	a, err := netbench.RunAudit(c, reg, s)
	if err != nil {
		return err
	}
	how := fmt.Sprintf("drawn with seed %d", s.Seed)
	if s.Fixed {
		how = "fixed, given by " + s.GivenBy
	}
	fmt.Printf("audit of %s (corpus %s, split %s in %s: %s, by %s): %d flows\n", fs.Arg(0), c.Manifest.ContentHash[:12], s.Hash(), s.FileName(), how, a.GroupBy, a.Flows)
	fmt.Printf("  shared 5-tuples: %v\n  shared captures: %v\n  shared identical texts: %v\n  unlabelled flows: %d\n", a.TupleOverlaps, a.CaptureOverlaps, a.TextOverlaps, a.UnknownLabels)
	for _, d := range a.Declared {
		fmt.Printf("  declared: %s\n", d)
	}
	for _, n := range a.Notes {
		fmt.Printf("  note: %s\n", n)
	}
	if len(a.TextLabelHits) > 0 {
		fmt.Printf("  label words carried by pretraining traffic itself (not a leak): %v\n", a.TextLabelHits)
	}
	if *verbose {
		keys := make([]string, 0, len(a.ClassCounts))
		for k := range a.ClassCounts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "class\tpretrain\ttrain\ttest\n")
		for _, k := range keys {
			v := a.ClassCounts[k]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", k, v[0], v[1], v[2])
		}
		tw.Flush()
	}
	if len(a.Leaks) > 0 {
		for _, l := range a.Leaks {
			fmt.Printf("LEAK: %s\n", l)
		}
		return fmt.Errorf("%d leaks", len(a.Leaks))
	}
	fmt.Println("no leak")
	return nil
}

func runStats(args []string) error {
	fs := newFlagSet("stats", "[--seed S] CORPUS", `
Prints Table 9 (percentiles of packets per flow and of the tokenized length
of each rendered flow) and Table 10 (each dataset's pretraining, finetuning
and test shares under the seed's split) for a corpus.`)
	seed := fs.Uint64("seed", 1, "random seed of the splits (a fixed split is the same for every seed)")
	regPath := fs.String("registry", "", "registry JSON file (default: the corpus's own registry.json, else the built-in one)")
	tokDir := fs.String("tokenizer", "", "tokenizer `DIR` ('lens tokenizer train') for Table 9's tokenized lengths (default: whitespace words)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CORPUS")
	}
	c, _, s, err := openSplits(fs.Arg(0), *regPath, *seed)
	if err != nil {
		return err
	}
	var count func(string) int
	name := ""
	if *tokDir != "" {
		tok, err := bbpe.Load(*tokDir)
		if err != nil {
			return err
		}
		count = func(t string) int { return len(tok.AppendIDs(nil, []byte(t))) }
		name = fmt.Sprintf("BBPE tokenizer %s (%d tokens)", *tokDir, tok.VocabSize())
	}
	st, err := netbench.ComputeStats(c, s, count, name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Table 9 (%d flows, corpus %s)\t0%%\t25%%\t50%%\t75%%\t100%%\n", st.Flows, c.Manifest.ContentHash[:12])
	p := st.PacketsPerFlow
	fmt.Fprintf(tw, "packets per flow\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", p[0], p[1], p[2], p[3], p[4])
	p = st.TokensPerFlow
	fmt.Fprintf(tw, "tokens per flow (%s)\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", st.TokenizerName, p[0], p[1], p[2], p[3], p[4])
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Table 10\tflows\tpretraining\tfinetuning\ttest\n")
	for _, d := range st.PerDataset {
		pre := fmt.Sprintf("%.0f%%", 100*d.Pretrain)
		if d.Pretrain == 0 {
			pre = "NA"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f%%\t%.0f%%\n", d.Dataset, d.Flows, pre, 100*d.Finetune, 100*d.Test)
	}
	return tw.Flush()
}

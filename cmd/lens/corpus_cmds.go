package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
)

func init() {
	commands["split"] = command{summary: "assign a corpus's flows to pretraining, finetuning train and test", run: runSplit}
	commands["audit"] = command{summary: "prove a corpus's splits leak nothing (exits non-zero on a leak)", run: runAudit}
	commands["stats"] = command{summary: "Table 9 (packets and tokens per flow) and Table 10 (split shares) of a corpus", run: runStats}
}

// openSplits opens a corpus and loads (or makes and saves) its splits.
func openSplits(dir, regPath string, seed uint64) (*netbench.Corpus, *netbench.Splits, error) {
	c, err := netbench.OpenCorpus(dir)
	if err != nil {
		return nil, nil, err
	}
	s, err := netbench.LoadSplits(c, seed)
	if err == nil {
		return c, s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	reg, err := loadRegistry(regPath)
	if err != nil {
		return nil, nil, err
	}
	s, err = netbench.Split(c, reg, netbench.SplitConfig{Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	return c, s, s.Save(dir)
}

func runSplit(args []string) error {
	fs := newFlagSet("split", "[--seed S] [--finetune-flows N] [--test-share X] CORPUS", `
Splits a corpus by flow, never by packet: per dataset, flows that share a
5-tuple stay together; the pretraining sample is the dataset's Table 10
share (60%), stratified by coarse category only, with CrossPlatform excluded;
of the rest, --test-share is held out for testing and the finetuning train
set is the larger of the Table 10 share and --finetune-flows, stratified by
class. Flow labels must be DATASET/CLASS names of the registry (as 'lens
synth' writes them). Writes CORPUS/splits-seedS.json. Same seed, same split.`)
	seed := fs.Uint64("seed", 1, "random seed")
	ft := fs.Int("finetune-flows", 10000, "finetuning flows per dataset (the paper's ~10k)")
	ts := fs.Float64("test-share", 0.25, "share of the non-pretraining flows held out for test")
	regPath := fs.String("registry", "", "registry JSON file (default: built in)")
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
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return err
	}
	s, err := netbench.Split(c, reg, netbench.SplitConfig{Seed: *seed, FinetuneFlows: *ft, TestShare: *ts})
	if err != nil {
		return err
	}
	if err := s.Save(fs.Arg(0)); err != nil {
		return err
	}
	for _, m := range s.Skipped {
		fmt.Fprintf(os.Stderr, "skipped: %s\n", m)
	}
	keys := make([]string, 0, len(s.Counts))
	for k := range s.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\n", k, s.Counts[k])
	}
	tw.Flush()
	fmt.Printf("split %s written to %s (unlabelled flows: %d)\n", s.Hash(), netbench.SplitsName(*seed), s.Unlabelled)
	return nil
}

func runAudit(args []string) error {
	fs := newFlagSet("audit", "[--seed S] CORPUS", `
Checks a corpus's splits (made with 'lens split', or made now if missing):
flows, 5-tuples and identical flow texts shared between pretraining, train
and test; fine labels in pretraining contexts; and prints class counts per
split. Label words that the traffic itself carries in pretraining text (DNS
names, say) are listed but are not a leak. Exits non-zero on a leak.`)
	seed := fs.Uint64("seed", 1, "random seed of the splits")
	regPath := fs.String("registry", "", "registry JSON file (default: built in)")
	verbose := fs.Bool("classes", false, "print class counts per split")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CORPUS")
	}
	c, s, err := openSplits(fs.Arg(0), *regPath, *seed)
	if err != nil {
		return err
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return err
	}
	a, err := netbench.RunAudit(c, reg, s)
	if err != nil {
		return err
	}
	fmt.Printf("audit of %s (corpus %s, split %s): %d flows\n", fs.Arg(0), c.Manifest.ContentHash[:12], s.Hash(), a.Flows)
	fmt.Printf("  shared 5-tuples: %v\n  shared identical texts: %v\n  unlabelled flows: %d\n", a.TupleOverlaps, a.TextOverlaps, a.UnknownLabels)
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
	seed := fs.Uint64("seed", 1, "random seed of the splits")
	regPath := fs.String("registry", "", "registry JSON file (default: built in)")
	tokDir := fs.String("tokenizer", "", "tokenizer `DIR` ('lens tokenizer train') for Table 9's tokenized lengths (default: whitespace words)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CORPUS")
	}
	c, s, err := openSplits(fs.Arg(0), *regPath, *seed)
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

package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
)

// vpnFixture is a small synthetic ISCX-VPN corpus, split, with a tokenizer
// trained on its pretraining split: built once per test binary.
type vpnFixture struct {
	Reg    *registry.Registry
	Corpus *netbench.Corpus
	Splits *netbench.Splits
	Tok    *bbpe.Tokenizer
	Flows  []*netbench.Flow
	Dir    string
}

var (
	fixtureOnce sync.Once
	fixture     *vpnFixture
	fixtureErr  error
)

// fixtureFlows is the synthetic size: flows per dataset and least per class.
const fixtureFlows, fixtureMin = 300, 4

func loadFixture(t testing.TB) *vpnFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func buildFixture() (*vpnFixture, error) {
	dir, err := os.MkdirTemp("", "lens-ft-fixture")
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	reg := registry.Default()
	pcaps := filepath.Join(dir, "pcaps")
	if _, err := synth.Generate(ctx, reg, synth.Config{Out: pcaps, Seed: 7, Flows: fixtureFlows, MinFlows: fixtureMin, Datasets: []string{"ISCX-VPN"}}); err != nil {
		return nil, err
	}
	in, err := netbench.ExpandInputs([]string{pcaps})
	if err != nil {
		return nil, err
	}
	cdir := filepath.Join(dir, "corpus")
	if _, err := netbench.Ingest(ctx, netbench.IngestConfig{Inputs: in, Out: cdir, CodeVersion: "test"}); err != nil {
		return nil, err
	}
	c, err := netbench.OpenCorpus(cdir)
	if err != nil {
		return nil, err
	}
	s, err := netbench.Split(c, reg, netbench.SplitConfig{Seed: 1})
	if err != nil {
		return nil, err
	}
	var lines bytes.Buffer
	if err := netbench.WritePretrainLines(c, s, reg, &lines); err != nil {
		return nil, err
	}
	tr, err := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 1200, MinFrequency: 2})
	if err != nil {
		return nil, err
	}
	tr.Add(lines.Bytes())
	for _, l := range netbench.RegistryText(reg) {
		tr.Add([]byte(l))
	}
	tok, err := tr.Train()
	if err != nil {
		return nil, err
	}
	f := &vpnFixture{Reg: reg, Corpus: c, Splits: s, Tok: tok, Dir: dir}
	err = c.Flows(func(fl *netbench.Flow) error {
		cp := *fl
		f.Flows = append(f.Flows, &cp)
		return nil
	})
	return f, err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
)

func init() {
	commands["synth"] = command{summary: "write synthetic NetBench-shaped captures (all 7 datasets, every class)", run: runSynth}
}

func runSynth(args []string) error {
	fs := newFlagSet("synth", "--out DIR [--flows N] [--seed S]", `
Writes real pcap captures shaped like the paper's seven datasets, one folder
per dataset and class (OUT/<dataset>/<class>/*.pcap), with every task's
classes and the registry's long-tail imbalance. Output is deterministic by
seed. Results computed on these captures are synthetic and are labelled so
wherever they are printed. Ingest them with 'lens ingest --out CORPUS OUT'.`)
	out := fs.String("out", "", "folder to write (required)")
	flows := fs.Int("flows", 600, "flows per dataset, split among classes by weight")
	minFlows := fs.Int("min-flows", 6, "every class gets at least this many flows")
	seed := fs.Uint64("seed", 1, "random seed")
	datasets := fs.String("datasets", "", "comma-separated dataset names (default: all)")
	regPath := fs.String("registry", "", "registry JSON file (default: the built-in one)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("need --out DIR")
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return err
	}
	cfg := synth.Config{Out: *out, Seed: *seed, Flows: *flows, MinFlows: *minFlows}
	if *datasets != "" {
		cfg.Datasets = strings.Split(*datasets, ",")
	}
	if !*quiet {
		cfg.Progress = func(d string, done, total int) {
			fmt.Fprintf(os.Stderr, "\rsynth: %-22s %6d/%-6d flows   ", d, done, total)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := synth.Generate(ctx, reg, cfg)
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d captures, %d flows, %d frames (synthetic, seed %d)\n", *out, sum.Captures, sum.Flows, sum.Frames, *seed)
	return nil
}

func loadRegistry(path string) (*registry.Registry, error) {
	if path == "" {
		return registry.Default(), nil
	}
	return registry.Load(path)
}

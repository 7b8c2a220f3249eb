package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/lens-go/lens/harness/finetune"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

func init() {
	commands["generate"] = command{summary: "finetune a header-field generator on a dataset and score it by JSD and TVD (Table 6)", run: runGenerate}
}

func runGenerate(args []string) error {
	fs := newFlagSet("generate", "--dataset NAME --corpus CORPUS --tokenizer DIR --from PRETRAINED --out RUN [--field KEY]... [flags]", `
Header-field generation (Section 4.3, Table 6): finetunes the model to fill
in masked header fields of one packet per training flow of dataset NAME,
then samples those fields for its test flows and compares the distribution
of the generated values with the real ones by Jensen-Shannon divergence
(JSD) and total variation distance (TVD), and for IP addresses also by
NetShare's popularity-rank JSD. Prints one row per field and writes
RUN/generate.json (with every generated and real value).`)
	dataset := fs.String("dataset", "", "dataset name from the registry, e.g. ISCX-VPN (required)")
	var fields []string
	fs.Func("field", "header field to generate: src_ip, dst_ip, src_port, dst_port, length; repeat or comma-separate for several (default: all five, one model told apart by the prompt)", func(s string) error {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		return nil
	})
	temp := fs.Float64("temperature", 1, "sampling temperature")
	topK := fs.Int("top-k", 0, "sample from the k most likely tokens (0: the whole vocabulary)")
	noCtx := fs.Bool("no-context", false, "leave the prompt out of the inputs (the w/o FT-Context ablation, Table 7)")
	gen := fs.String("generator", "", "an already finetuned generation checkpoint to sample from: skip training")
	df := addDataFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataset == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("need --dataset and no arguments")
	}
	d, err := df.data()
	if err != nil {
		return err
	}
	cfg, err := df.config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := finetune.Generate(ctx, d, finetune.GenerateConfig{Config: cfg, Dataset: *dataset, Fields: fields,
		Temperature: *temp, TopK: *topK, WithoutContext: *noCtx, Generator: *gen})
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(cfg.Out, "generate.json"), res); err != nil {
		return err
	}
	fmt.Printf("%s: generated from %d training flows, scored on %d test flows\n", res.Dataset, res.TrainFlows, res.TestFlows)
	tb := tablewriter.NewTable(os.Stdout, tablewriter.WithHeaderAutoFormat(tw.Off))
	tb.Header("field", "JSD", "TVD", "rank JSD", "invalid", "values")
	for _, f := range res.Fields {
		rank := ""
		if strings.HasSuffix(f.Field, "_ip") {
			rank = f4(f.RankJSD)
		}
		if err := tb.Append(f.Field, f4(f.JSD), f4(f.TVD), rank, fmt.Sprint(f.Invalid), fmt.Sprint(len(f.Generated))); err != nil {
			return err
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	fmt.Printf("checkpoint %s, results %s\n", res.Checkpoint, filepath.Join(cfg.Out, "generate.json"))
	return nil
}

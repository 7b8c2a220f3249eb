package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/lens-go/lens/netbench"
)

func init() {
	commands["ingest"] = command{summary: "turn captures into a flow corpus (zstd shards + manifest)", run: runIngest}
}

func runIngest(args []string) error {
	fs := newFlagSet("ingest", "--out DIR [--dataset NAME] INPUT...", `
Dissects every capture (pcap or pcapng in any variant tshark 4.0 reads,
optionally gzip-compressed), groups frames into bidirectional flows, renders
each flow's first 34 packets as anonymised packet lines with typed field
spans, and writes them to zstd-compressed JSON-lines shards with a manifest
(counts, skipped frames by reason, per-capture sources, the flow idle
timeout and a content hash). An INPUT folder is walked for captures and text
files; a file under INPUT/<label>/ gets that class label.

Text inputs (*.json, *.jsonl) hold flows already rendered: NetBench
<dataset>_<split>_flow.json (a JSON array of rows, or one row per line,
with text and label1..label3) or Lens JSON lines (anonymized_text, label).
A row is rejected, named (file and line, or file, row and byte offset in an
array) and counted by reason when a label is not a JSON string, it has no
label (and no label folder), its text is not packet lines (SRC → DST
PROTOCOL LENGTH INFO), a packet line exceeds 8 KiB or the row 4 MiB. A
syntax error in an array loses only its row.

Your own captures: with --dataset NAME, the folder names under INPUT are the
classes of dataset NAME (INPUT/<class>/*.pcap; a deeper tree
INPUT/<level1>/<level2>/ gives one classification task per folder level),
and the corpus gets its own registry, DIR/registry.json (dataset, tasks,
classes, the pretraining context "It is NAME network traffic data"; edit it
before 'lens split'), which every later command reads: no --registry needed.

A fixed split: INPUT/train/<class>/ and INPUT/test/<class>/ (optionally
val/ and pretrain/) keep their split, recorded in the manifest and in
DIR/splits-fixed.json, which every seed of every later command uses (as do
NetBench <dataset>_<split>_flow.json file names). Then 'lens audit DIR'
checks it at once.

Capture names in flows are relative to their INPUT; with several INPUTs they
start with as much of the INPUT's path as tells them apart.

Bad inputs:
  - Every INPUT path must exist: if any is missing, nothing is ingested and
    lens exits 1 naming every missing path.
  - A file that is not a readable capture is skipped, named in a warning and
    counted; a corrupt record ends its capture (the flows before it are
    kept); the batch goes on and lens exits 0 with the counts in the
    summary.
  - If no input gives a flow (every input failed, or none held an IP packet
    or a good row), no corpus is written and lens exits 1 saying why.`)
	out := fs.String("out", "", "corpus directory to create (required)")
	workers := fs.Int("workers", 0, "captures dissected at once (0: one per core)")
	shard := fs.Int("shard-flows", 10000, "flows per shard file")
	dataset := fs.String("dataset", "", "make a corpus of your own captures: folder names under INPUT become the classes of dataset `NAME`, with its own registry")
	idle := fs.Duration("idle-timeout", netbench.DefaultIdleTimeout, "a flow idle this long (capture time) is finished, and a later packet of its 5-tuple starts a new flow; 0: none, one flow per 5-tuple for the whole capture, as the paper's SplitCap sessions")
	maxFlows := fs.Int("max-flows", 1<<16, "active flows per capture before the oldest is finished")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idle == 0 {
		*idle = netbench.NoIdleTimeout
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return errors.New("need --out DIR and at least one INPUT")
	}
	inputs, err := netbench.ExpandInputs(fs.Args())
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return fmt.Errorf("no captures (*.pcap, *.pcapng, *.cap, *.gz) or text files (*.json, *.jsonl) under %v", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := netbench.IngestConfig{
		Inputs: inputs, Out: *out, Workers: *workers, ShardFlows: *shard,
		Flows:       netbench.FlowTableConfig{IdleTimeout: *idle, MaxFlows: *maxFlows},
		Dataset:     *dataset,
		CodeVersion: codeVersion(),
		Warn:        func(err error) { fmt.Fprintf(os.Stderr, "\rwarning: %v\n", err) },
	}
	if !*quiet {
		cfg.Progress = func(s netbench.IngestStats) {
			rate := float64(s.Frames) / s.Elapsed.Seconds()
			fmt.Fprintf(os.Stderr, "\ringest: captures %d/%d  frames %d  flows %d  %.0f frames/s  %s   ",
				s.CapturesDone, s.Captures, s.Frames, s.Flows, rate, s.Elapsed.Round(time.Second))
		}
	}
	m, err := netbench.Ingest(ctx, cfg)
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s\n%s", *out, m.Summary())
	return nil
}

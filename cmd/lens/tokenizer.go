package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"github.com/lens-go/lens/netbench"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lens-go/lens/netbench/bbpe"
)

func init() {
	commands["tokenizer"] = command{
		summary: "train the byte-level BPE tokenizer, or encode lines with it",
		run:     runTokenizer,
	}
}

const tokenizerUsage = `Usage: lens tokenizer train [flags]
       lens tokenizer encode --tokenizer DIR < lines

Subcommands:
  train   learn a byte-level BPE vocabulary from packet lines and natural-language text
  encode  print the token ids of each line read on stdin

Run 'lens tokenizer SUBCOMMAND --help' for its flags.
`

func runTokenizer(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, tokenizerUsage)
		return errors.New("missing subcommand")
	}
	switch args[0] {
	case "train":
		return tokenizerTrain(args[1:])
	case "encode":
		return tokenizerEncode(args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stderr, tokenizerUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(os.Stderr, tokenizerUsage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// fileList is a flag that may be given more than once.
type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(s string) error { *l = append(*l, s); return nil }

func tokenizerTrain(args []string) error {
	flags := newFlagSet("tokenizer train", "[--corpus DIR] [--lines FILE]... [--text FILE|DIR]... --out DIR",
		`Learn a byte-level BPE tokenizer (Section 3.1 of the paper) from packet lines
and natural-language text, and write it to --out as Hugging Face files
(tokenizer.json, vocab.json, merges.txt) with lens_tokenizer_meta.json, which
names every input and its SHA-256. <pad>, </s>, <unk>, <sep>, <SIP> and <DIP>
get ids 0 to 5 and the sentinels <extra_id_0> ... <extra_id_99> the highest ids.
One of --corpus, --lines or --text is needed; any mix may be given.`)
	corpus := flags.String("corpus", "", "`DIR` of a corpus ('lens ingest'): its pretraining split's packet lines and contexts")
	seed := flags.Uint64("seed", 1, "split seed of --corpus (its pretraining split)")
	var lines, texts fileList
	flags.Var(&lines, "lines", "plain-text `FILE` of packet lines, one per line (repeatable)")
	flags.Var(&texts, "text", "natural-language `FILE` or folder of files: plain text, one document a line, or *.jsonl with a \"text\" field (repeatable)")
	vocab := flags.Int("vocab", 32000, "vocabulary size, special tokens and sentinels included")
	minFreq := flags.Int64("min-freq", 2, "least number of occurrences of a pair to merge it")
	out := flags.String("out", "", "output `DIR`")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	inputs, err := trainInputs(*corpus, *seed, lines, texts)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return errors.New("no training input: give --lines, --text or --corpus")
	}
	p := &progressLine{}
	tr, err := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: *vocab, MinFrequency: *minFreq, Progress: p.report})
	if err != nil {
		return err
	}
	start := time.Now()
	var skipped int
	for _, in := range inputs {
		p.name = in.name
		r, err := in.open()
		if err != nil {
			return err
		}
		err = tr.AddReader(in.name, r, in.format)
		r.Close()
		if err != nil {
			if in.format != bbpe.JSONLines {
				return err
			}
			// Malformed JSON lines are skipped and counted; training goes on.
			p.clear()
			fmt.Fprintf(os.Stderr, "lens tokenizer train: %v\n", err)
			skipped++
		}
	}
	p.clear()
	counted := time.Since(start)
	tok, err := tr.Train()
	if err != nil {
		return err
	}
	p.clear()
	if err := tok.Save(*out); err != nil {
		return err
	}
	m := tok.Meta
	fmt.Fprintf(os.Stderr, "lens tokenizer train: %d inputs, %d words (%d distinct) counted in %s; %d merges, vocabulary %d; %s in all; wrote %s\n",
		len(m.Sources), m.Words, m.DistinctWords, counted.Round(time.Millisecond), m.NumMerges, m.VocabSize,
		time.Since(start).Round(time.Millisecond), *out)
	if skipped > 0 {
		fmt.Fprintf(os.Stderr, "lens tokenizer train: %d inputs had malformed lines, skipped\n", skipped)
	}
	return nil
}

// trainInput is one source of training text.
type trainInput struct {
	name   string
	format bbpe.Format
	open   func() (io.ReadCloser, error)
}

// trainInputs lists the tokenizer's training inputs: the packet lines of the
// pretraining corpus in corpusDir, the plain packet-line files, and the
// natural-language text files or folders.
func trainInputs(corpusDir string, seed uint64, lines, texts []string) ([]trainInput, error) {
	var in []trainInput
	if corpusDir != "" {
		c, reg, s, err := openSplits(corpusDir, "", seed)
		if err != nil {
			return nil, err
		}
		in = append(in, trainInput{name: corpusDir + " (pretraining split, seed " + strconv.FormatUint(seed, 10) + ", corpus " + c.Manifest.ContentHash[:12] + ")",
			format: bbpe.Lines, open: func() (io.ReadCloser, error) {
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(netbench.WritePretrainLines(c, s, reg, pw)) }()
				return pr, nil
			}})
		if len(texts) == 0 {
			// Without a natural-language corpus, the registry's contexts and prompts.
			text := strings.Join(netbench.RegistryText(reg), "\n") + "\n"
			in = append(in, trainInput{name: "registry contexts and prompts", format: bbpe.Lines,
				open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(text)), nil }})
		}
	}
	file := func(path string, format bbpe.Format) trainInput {
		return trainInput{name: path, format: format, open: func() (io.ReadCloser, error) { return os.Open(path) }}
	}
	for _, path := range lines {
		in = append(in, file(path, bbpe.Lines))
	}
	for _, root := range texts {
		info, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			in = append(in, file(root, textFormat(root)))
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				in = append(in, file(path, textFormat(path)))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

func textFormat(path string) bbpe.Format {
	if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson") {
		return bbpe.JSONLines
	}
	return bbpe.Lines
}

// progressLine shows training progress on one line of stderr.
type progressLine struct {
	name  string
	last  time.Time
	shown bool
}

func (p *progressLine) report(pr bbpe.Progress) {
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond || pr.Done == pr.Total {
		p.last = now
		p.shown = true
		switch pr.Stage {
		case "count":
			fmt.Fprintf(os.Stderr, "\rcounting words: %.1f MB read (%s)\033[K", float64(pr.Done)/1e6, p.name)
		case "merge":
			fmt.Fprintf(os.Stderr, "\rlearning merges: %d/%d\033[K", pr.Done, pr.Total)
		}
	}
}

func (p *progressLine) clear() {
	if p.shown {
		fmt.Fprint(os.Stderr, "\r\033[K")
		p.shown = false
	}
}

func tokenizerEncode(args []string) error {
	flags := newFlagSet("tokenizer encode", "--tokenizer DIR < lines",
		`Read lines on stdin and print, for each, its token ids space-separated on one
line. Line endings (\n or \r\n) are not encoded; special tokens such as <SIP>
are recognised; no </s> is added.`)
	dir := flags.String("tokenizer", "", "`DIR` written by 'lens tokenizer train'")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--tokenizer is required")
	}
	tok, err := bbpe.Load(*dir)
	if err != nil {
		return err
	}
	return encodeLines(tok, os.Stdin, os.Stdout)
}

// encodeLines writes the token ids of each line of r to w, one line each.
func encodeLines(tok *bbpe.Tokenizer, r io.Reader, w io.Writer) error {
	in := bufio.NewReaderSize(r, 1<<20)
	out := bufio.NewWriterSize(w, 1<<20)
	const batch = 4096
	var lines [][]byte
	var buf []byte
	flush := func() error {
		for _, ids := range tok.EncodeBatchIDs(lines) {
			buf = buf[:0]
			for i, id := range ids {
				if i > 0 {
					buf = append(buf, ' ')
				}
				buf = strconv.AppendInt(buf, int64(id), 10)
			}
			buf = append(buf, '\n')
			if _, err := out.Write(buf); err != nil {
				return err
			}
		}
		lines = lines[:0]
		return nil
	}
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			lines = append(lines, bytesTrimEOL(line))
			if len(lines) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return out.Flush()
}

func bytesTrimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

func init() {
	commands["render"] = command{summary: "print a capture's frames as tshark renders them, or its flows as Lens text", run: runRender}
}

func runRender(args []string) error {
	fs := newFlagSet("render", "[--flows] CAPTURE", `
Prints one tab-separated row per frame, in capture order, with the columns
of tshark's golden renderings: frame src dst sport dport protocol frame_len
info payload12 (real addresses; payload12 is the first 12 bytes of the TCP or
UDP payload as 24 hex digits). With --flows it prints the anonymised flow
text instead: a "# flow" header per flow, then its first 34 packet lines.`)
	flows := fs.Bool("flows", false, "print anonymised flow text instead of per-frame rows")
	spans := fs.Bool("spans", false, "with --flows, print each line's typed field spans under it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CAPTURE")
	}
	path := fs.Arg(0)
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	d := dissect.New(dissect.Config{})
	var (
		fr  capture.Frame
		p   dissect.Packet
		row []byte
		n   int
	)
	var ft *netbench.FlowTable
	if *flows {
		ft = netbench.NewFlowTable(netbench.FlowTableConfig{}, path, "", func(f *netbench.Flow) error {
			n++
			fmt.Fprintf(out, "# flow %d: %s packets=%d\n", n, f.Tuple(), f.Packets)
			for _, l := range f.Lines {
				fmt.Fprintln(out, l.Text)
				if *spans {
					for _, s := range l.Spans {
						fmt.Fprintf(out, "#   %-12s %q\n", s.Kind, l.Text[s.Start:s.End])
					}
				}
			}
			fmt.Fprintln(out)
			return nil
		})
	} else {
		fmt.Fprintln(out, dissect.TSVHeader)
	}
	var readErr error
	for {
		if err := r.Next(&fr); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		d.Dissect(&fr, &p)
		if ft != nil {
			if err := ft.Add(&p, fr.Time); err != nil {
				return err
			}
			continue
		}
		row = append(p.AppendTSV(row[:0]), '\n')
		if _, err := out.Write(row); err != nil {
			return err
		}
	}
	if ft != nil {
		if err := ft.Close(); err != nil {
			return err
		}
	}
	return readErr
}

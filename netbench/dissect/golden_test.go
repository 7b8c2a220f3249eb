package dissect

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
)

var (
	goldenShow  = flag.String("golden.show", "", "print mismatching frames whose tshark protocol is this (or 'all')")
	goldenMax   = flag.Int("golden.max", 30, "at most this many mismatches printed")
	goldenFile  = flag.String("golden.file", "", "compare only captures whose path contains this")
	goldenField = flag.Bool("golden.fields", false, "print which fields differ per protocol")
)

// sharedDir finds ../shared beside the repository, or $LENS_SHARED.
func sharedDir(t testing.TB) string {
	if d := os.Getenv("LENS_SHARED"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared")
	if _, err := os.Stat(filepath.Join(d, "pcaps", "golden")); err != nil {
		t.Skipf("../shared/pcaps/golden not found (a fresh clone has no ../shared): set LENS_SHARED to run the differential test against tshark")
	}
	return d
}

type goldenRow struct{ frame, src, dst, sport, dport, proto, flen, info, p12 string }

func readGolden(path string) ([]goldenRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []goldenRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "frame\t") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 9 {
			return nil, fmt.Errorf("%s: bad row %q", path, line)
		}
		rows = append(rows, goldenRow{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]})
	}
	return rows, sc.Err()
}

type tally struct{ n, ok int }

func (t tally) share() float64 {
	if t.n == 0 {
		return 1
	}
	return float64(t.ok) / float64(t.n)
}

// TestGolden compares the renderer with tshark 4.0.17 on every capture in
// ../shared/pcaps and reports the share of frames whose protocol, frame_len,
// info and payload12 equal tshark's, per protocol and overall.
func TestGolden(t *testing.T) {
	shared := sharedDir(t)
	goldens, _ := filepath.Glob(filepath.Join(shared, "pcaps", "golden", "*.tsv"))
	if len(goldens) == 0 {
		t.Skip("no golden files")
	}
	perProto := map[string]*tally{}
	fieldDiff := map[string]map[string]int{}
	var all, ipFrames tally
	var lenOK, p12OK int
	shown := 0
	for _, g := range goldens {
		rel := strings.Replace(strings.TrimSuffix(filepath.Base(g), ".tsv"), "__", "/", 1)
		if *goldenFile != "" && !strings.Contains(rel, *goldenFile) {
			continue
		}
		rows, err := readGolden(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := renderFile(filepath.Join(shared, "pcaps", rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		for i, r := range rows {
			var mine goldenRow
			if i < len(got) {
				mine = got[i]
			}
			okProto := mine.proto == r.proto
			okLen := mine.flen == r.flen
			okInfo := mine.info == r.info
			okP12 := mine.p12 == r.p12
			ok := okProto && okLen && okInfo && okP12
			tl := perProto[r.proto]
			if tl == nil {
				tl = &tally{}
				perProto[r.proto] = tl
			}
			tl.n++
			all.n++
			if ok {
				tl.ok++
				all.ok++
			}
			if r.src != "" {
				ipFrames.n++
				if okLen {
					lenOK++
				}
				if okP12 {
					p12OK++
				}
			}
			if !ok {
				fd := fieldDiff[r.proto]
				if fd == nil {
					fd = map[string]int{}
					fieldDiff[r.proto] = fd
				}
				for _, x := range []struct {
					ok   bool
					name string
				}{{okProto, "protocol"}, {okLen, "frame_len"}, {okInfo, "info"}, {okP12, "payload12"}} {
					if !x.ok {
						fd[x.name]++
					}
				}
				if (*goldenShow == "all" || *goldenShow == r.proto) && shown < *goldenMax {
					shown++
					t.Logf("%s #%s\n  tshark: %s | %s | %s | %s\n  ours:   %s | %s | %s | %s", rel, r.frame,
						r.proto, r.flen, r.info, r.p12, mine.proto, mine.flen, mine.info, mine.p12)
				}
			}
		}
	}
	protos := make([]string, 0, len(perProto))
	for p := range perProto {
		protos = append(protos, p)
	}
	sort.Slice(protos, func(i, j int) bool { return perProto[protos[i]].n > perProto[protos[j]].n })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-16s %7s %7s %7s\n", "protocol", "frames", "equal", "share")
	for _, p := range protos {
		tl := perProto[p]
		fmt.Fprintf(&sb, "%-16s %7d %7d %6.1f%%", p, tl.n, tl.ok, 100*tl.share())
		if *goldenField && fieldDiff[p] != nil {
			fmt.Fprintf(&sb, "  %v", fieldDiff[p])
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "%-16s %7d %7d %6.1f%%\n", "ALL", all.n, all.ok, 100*all.share())
	fmt.Fprintf(&sb, "IP frames: %d, frame_len equal %d, payload12 equal %d\n", ipFrames.n, lenOK, p12OK)
	t.Log("\n" + sb.String())
	if *goldenFile != "" || *goldenShow != "" {
		return
	}
	for _, p := range []string{"TCP", "UDP", "TLSv1", "TLSv1.2", "TLSv1.3", "SSL", "DNS", "MDNS", "HTTP", "QUIC", "GQUIC"} {
		if tl := perProto[p]; tl != nil && tl.share() < 0.97 {
			t.Errorf("%s: %.1f%% of %d frames equal tshark's, want at least 97%%", p, 100*tl.share(), tl.n)
		}
	}
	if all.share() < 0.85 {
		t.Errorf("all frames: %.1f%% equal tshark's, want at least 85%%", 100*all.share())
	}
	if lenOK != ipFrames.n || p12OK != ipFrames.n {
		t.Errorf("IP frames: frame_len equal on %d of %d, payload12 on %d of %d; want all", lenOK, ipFrames.n, p12OK, ipFrames.n)
	}
}

// renderFile renders every frame of a capture as golden rows.
func renderFile(path string) ([]goldenRow, error) {
	r, err := capture.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	d := New(Config{})
	var (
		rows []goldenRow
		fr   capture.Frame
		p    Packet
		buf  []byte
	)
	for {
		if err := r.Next(&fr); err != nil {
			if errors.Is(err, io.EOF) {
				return rows, nil
			}
			return rows, err
		}
		d.Dissect(&fr, &p)
		buf = p.AppendTSV(buf[:0])
		c := strings.Split(string(buf), "\t")
		rows = append(rows, goldenRow{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]})
	}
}

package capture

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sharedDir is $LENS_SHARED, or ../shared beside the repository.
func sharedDir(t *testing.T) string {
	if d := os.Getenv("LENS_SHARED"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared")
	if _, err := os.Stat(d); err != nil {
		t.Skip("../shared not found (a fresh clone has none): set LENS_SHARED to read the shared captures")
	}
	return d
}

// goldenFrameLens reads the frame numbers and frame_len column of a golden
// file that tshark 4.0.17 wrote for a capture.
func goldenFrameLens(path string) (map[int]int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	lens, last := map[int]int{}, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || strings.HasPrefix(sc.Text(), "frame\t") {
			continue
		}
		c := strings.SplitN(sc.Text(), "\t", 8)
		if len(c) < 7 {
			continue
		}
		n, err1 := strconv.Atoi(c[0])
		l, err2 := strconv.Atoi(c[6])
		if err1 != nil || err2 != nil {
			continue
		}
		lens[n], last = l, n
	}
	return lens, last, sc.Err()
}

// pseudoHeader are the pcap link types whose records start with a
// pseudo-header that tshark does not count in frame.len (SunATM, MTP2, IrDA,
// LAPD, SITA, ERF, Bluetooth H4, I2C). Lens dissects none of them and keeps
// the record's length.
var pseudoHeader = map[LinkType]bool{123: true, 139: true, 144: true, 177: true, 196: true, 197: true, 201: true, 209: true}

// TestSharedCapturesAsTshark reads every capture of the shared corpora
// (../shared/pcaps and the 830 tcpdump regression captures, many malformed)
// and checks that each one tshark read (a golden with frames) opens with no
// header error and no panic and gives tshark's frames: the same count and
// the same frame.len (or the captured length, where tshark's is smaller).
// A capture tshark reads no frame from (empty, or a link type it refuses)
// must not panic either.
func TestSharedCapturesAsTshark(t *testing.T) {
	shared := sharedDir(t)
	type tally struct{ captures, tsharkRead, opened, sameFrames, refused, refusedOpened int }
	for _, corpus := range []string{"pcaps", "pcaps-tcpdump"} {
		root := filepath.Join(shared, corpus)
		goldens, _ := filepath.Glob(filepath.Join(root, "golden", "*.tsv"))
		if len(goldens) == 0 {
			t.Logf("%s: no golden files, skipped", root)
			continue
		}
		var n tally
		for _, g := range goldens {
			rel := strings.Replace(strings.TrimSuffix(filepath.Base(g), ".tsv"), "__", "/", 1)
			path := filepath.Join(root, rel)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: golden without its capture: %v", g, err)
				continue
			}
			want, last, err := goldenFrameLens(g)
			if err != nil {
				t.Fatal(err)
			}
			n.captures++
			read := len(want) > 0
			if read {
				n.tsharkRead++
			} else {
				n.refused++
			}
			r, err := Open(path)
			if err != nil {
				if read {
					t.Errorf("%s: %v (tshark read %d frames)", rel, err, len(want))
				}
				continue
			}
			if read {
				n.opened++
			} else {
				n.refusedOpened++
			}
			frames, bad := 0, 0
			var rerr error
			for {
				var fr Frame
				err := r.Next(&fr)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					rerr = err
					break
				}
				frames = fr.Index
				if l, ok := want[fr.Index]; ok && !pseudoHeader[fr.LinkType] && fr.OrigLen != l && !(l < len(fr.Data) && fr.OrigLen == len(fr.Data)) {
					if bad++; bad <= 3 {
						t.Errorf("%s: frame %d: frame.len %d, tshark %d", rel, fr.Index, fr.OrigLen, l)
					}
				}
			}
			r.Close()
			if rerr != nil && strings.Contains(rerr.Error(), "malformed record") {
				t.Errorf("%s: the reader panicked: %v", rel, rerr)
			}
			if read {
				if frames == last {
					n.sameFrames++
				} else {
					t.Errorf("%s: lens read %d frames (then %v), tshark %d", rel, frames, rerr, last)
				}
			}
		}
		t.Logf("%s: %d captures; tshark read frames from %d: lens opened %d, same frames %d; tshark read none from %d (empty, or a link type tshark refuses): lens opened %d",
			corpus, n.captures, n.tsharkRead, n.opened, n.sameFrames, n.refused, n.refusedOpened)
	}
}

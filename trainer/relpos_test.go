package trainer

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRelativePositionBucketMatchesHuggingFace compares against a table
// written by testdata/relpos_buckets.py, a transcription of Hugging Face's
// _relative_position_bucket.
func TestRelativePositionBucketMatchesHuggingFace(t *testing.T) {
	f, err := os.Open("testdata/relpos_buckets.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	checked := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		mode, values, _ := strings.Cut(line, " ")
		bidirectional := mode == "bi"
		for i, s := range strings.Split(values, ",") {
			want, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			rp := i - 300
			if got := RelativePositionBucket(rp, bidirectional, 32, 128); got != want {
				t.Errorf("%s relative position %d: bucket %d, Hugging Face %d", mode, rp, got, want)
			}
			checked++
		}
	}
	if checked != 2*601 {
		t.Fatalf("checked %d cases", checked)
	}
	// A few by hand: exact buckets near zero, the direction bit, the log range.
	for _, c := range []struct {
		rp   int
		bi   bool
		want int
	}{{0, true, 0}, {-1, true, 1}, {1, true, 17}, {-8, true, 8}, {8, true, 24}, {-20, true, 10}, {-128, true, 15},
		{5, false, 0}, {-5, false, 5}, {-16, false, 16}, {-32, false, 21}, {-200, false, 31}} {
		if got := RelativePositionBucket(c.rp, c.bi, 32, 128); got != c.want {
			t.Errorf("bucket(%d, bidirectional=%v) = %d, want %d", c.rp, c.bi, got, c.want)
		}
	}
}

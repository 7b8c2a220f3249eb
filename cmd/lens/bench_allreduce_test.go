package main

import "testing"

func TestBenchAllreduceSmoke(t *testing.T) {
	if err := benchAllreduce([]string{"--ranks", "1,3", "--sizes", "4KiB,1MiB", "--iters", "2", "--warmup", "1"}); err != nil {
		t.Fatal(err)
	}
	if err := benchAllreduce([]string{"--ranks", "2", "--sizes", "64KiB", "--iters", "1", "--compress"}); err != nil {
		t.Fatal(err)
	}
	if err := benchAllreduce([]string{"--sizes", "3B"}); err == nil {
		t.Fatal("size that is not a whole number of float32 accepted")
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int{"4": 4, "1KiB": 1024, "1.5MiB": 1572864, "64MiB": 64 << 20, "1GiB": 1 << 30} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

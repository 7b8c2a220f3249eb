package baselines

import "testing"

func TestDatanetLearns(t *testing.T) {
	learns(t, "Datanet", Config{Epochs: 3, Batch: 32, Seed: 1}, 0.8)
}
func TestDeepPacketLearns(t *testing.T) {
	learns(t, "DeepPacket", Config{Epochs: 3, Batch: 32, Seed: 1}, 0.8)
}
func TestTSCRNNLearns(t *testing.T) {
	learns(t, "TSCRNN", Config{Epochs: 15, Batch: 16, LR: 5e-3, Seed: 1}, 0.8)
}
func TestBiLSTMAttLearns(t *testing.T) {
	learns(t, "BiLSTM_Att", Config{Epochs: 4, Batch: 16, Seed: 1}, 0.8)
}
func TestFSNetLearns(t *testing.T) {
	learns(t, "FS-Net", Config{Epochs: 12, Batch: 16, LR: 5e-3, Seed: 1}, 0.8)
}
func TestYaTCLearns(t *testing.T) {
	learns(t, "YaTC", Config{Epochs: 6, PretrainEpochs: 2, Batch: 16, Seed: 1}, 0.8)
}
func TestETBERTLearns(t *testing.T) {
	learns(t, "ET-BERT", Config{Epochs: 6, PretrainEpochs: 2, Batch: 16, Seed: 1}, 0.8)
}
func TestTrafficLLMLearns(t *testing.T) {
	learns(t, "TrafficLLM", Config{Epochs: 6, PretrainEpochs: 2, Batch: 16, Seed: 1}, 0.8)
}

func TestTrafficLLMPrompt(t *testing.T) {
	ex := Example{Packets: []Packet{{Dir: 0, IP: udpPacket([]byte{0x47, 0x45, 0x54})}, {Dir: 1, IP: udpPacket(nil)}}}
	if got, want := TrafficLLMPrompt(ex, 5, 2), "Classify this flow. >31 4745 <28  Answer:"; got != want {
		t.Errorf("prompt %q, want %q", got, want)
	}
	a, err := buildTrafficLLM("smoke", 3)
	if err != nil {
		t.Fatal(err)
	}
	ids := a.units(ex)[0].ids
	text := TrafficLLMPrompt(ex, 3, 8)
	if ids[0] != llmPad || ids[len(ids)-1] != llmAnswer || ids[len(ids)-2] != ':' || ids[len(ids)-1-len(text)] != 'C' {
		t.Errorf("ids not left-padded text then the answer marker: %v", ids)
	}
}

func TestSincos2D(t *testing.T) {
	const side, dim = 5, 8
	p := sincos2D(side, dim)
	if len(p) != (1+side*side)*dim {
		t.Fatalf("%d values", len(p))
	}
	for _, v := range p[:dim] {
		if v != 0 {
			t.Fatal("[CLS] position not zero")
		}
	}
	// patch (row 0, column 0): sin(0)=0, cos(0)=1 in both halves
	if got := p[dim : 2*dim]; got[0] != 0 || got[2] != 1 || got[4] != 0 || got[6] != 1 {
		t.Errorf("patch (0,0) = %v", got)
	}
	// patch (row 1, column 0): the column half unchanged, the row half encodes 1
	if got := p[(1+side)*dim : (2+side)*dim]; got[0] != 0 || got[4] == 0 {
		t.Errorf("patch (1,0) = %v", got)
	}
}

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

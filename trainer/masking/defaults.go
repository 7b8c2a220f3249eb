package masking

import "github.com/lens-go/lens/netbench/span"

// KGMSP is the paper's knowledge-guided masked span prediction with the
// probabilities it adopts (theta = k = 50%): ports, protocols, flags and
// messages as whole fields with theta; seq, ack and lengths with k; random
// spans up to 15% of the traffic tokens; the context at 15%. It equals
// configs/masking/kgmsp.json (a test keeps them equal).
func KGMSP() Config {
	return Config{
		Name: "kgmsp", Type: "kgmsp", TargetRatio: 0.15, MeanSpanLength: 3,
		Groups: []Group{
			{Param: "theta", Kinds: []span.Kind{span.Port, span.Protocol, span.Flags, span.Message}, Prob: 0.5},
			{Param: "k", Kinds: []span.Kind{span.Seq, span.Ack, span.FrameLen, span.PayloadLen}, Prob: 0.5},
		},
		Context: &Region{Type: "span", Ratio: 0.15, MeanSpanLength: 3},
	}
}

// Random is T5 span corruption (noise density 0.15, mean span 3): the
// random-masking baseline of Table 12; it equals configs/masking/random.json.
func Random() Config {
	return Config{Name: "random", Type: "span", TargetRatio: 0.15, MeanSpanLength: 3}
}

package synth

// fill writes pseudo-random bytes into b.
func (g *flowGen) fill(b []byte) {
	for i := 0; i < len(b); {
		v := g.r.Uint64()
		for j := 0; j < 8 && i < len(b); j++ {
			b[i] = byte(v >> (8 * j))
			i++
		}
	}
}

package trainer

import "math"

// RelativePositionBucket maps a relative position (key position minus query
// position) to one of numBuckets buckets, as Hugging Face's
// T5Attention._relative_position_bucket does: half the buckets (per
// direction when bidirectional) hold exact distances, the rest grow
// logarithmically up to maxDistance. The arithmetic is float32, like
// PyTorch's.
func RelativePositionBucket(relativePosition int, bidirectional bool, numBuckets, maxDistance int) int {
	bucket := 0
	n := relativePosition
	if bidirectional {
		numBuckets /= 2
		if n > 0 {
			bucket += numBuckets
		}
		if n < 0 {
			n = -n
		}
	} else {
		n = -min(n, 0)
	}
	maxExact := numBuckets / 2
	if n < maxExact {
		return bucket + n
	}
	ratio := float32(n) / float32(maxExact)
	scale := float32(math.Log(float64(maxDistance) / float64(maxExact)))
	large := maxExact + int(float32(math.Log(float64(ratio)))/scale*float32(numBuckets-maxExact))
	return bucket + min(large, numBuckets-1)
}

// relativeBuckets returns the [qLen*kLen] bucket table for a query of qLen
// positions attending to kLen keys.
func relativeBuckets(qLen, kLen int, bidirectional bool, numBuckets, maxDistance int) []int32 {
	out := make([]int32, qLen*kLen)
	for q := range qLen {
		for k := range kLen {
			out[q*kLen+k] = int32(RelativePositionBucket(k-q, bidirectional, numBuckets, maxDistance))
		}
	}
	return out
}

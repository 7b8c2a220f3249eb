# Generates relpos_buckets.txt: python3 relpos_buckets.py
import math
def bucket(rp, bidirectional=True, num_buckets=32, max_distance=128):
    rb = 0
    if bidirectional:
        num_buckets //= 2
        rb += (rp > 0) * num_buckets
        rp = abs(rp)
    else:
        rp = -min(rp, 0)
    max_exact = num_buckets // 2
    if rp < max_exact:
        return rb + rp
    large = max_exact + int(math.log(rp / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact))
    return rb + min(large, num_buckets - 1)
for bi in (True, False):
    print("bi" if bi else "causal", ",".join(str(bucket(r, bi)) for r in range(-300, 301)))

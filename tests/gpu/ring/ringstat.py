"""ringstat.py - hand-off latency and ring counters read from the shared files.

Offsets follow lib/layout.h (ABI 1); the file's magic and ABI are checked
first. Prints one 'ringstat' line per GPU file:
  ringstat handoffs=… overruns=… revocations=… handoff_p50_us=… handoff_p99_us=…
The hand-off latency is the time from a grant (after the previous holder's
drain) to the new holder's gate opening, bucketed by powers of two of µs;
the percentiles are the bucket's upper bound.
usage: python3 ringstat.py CUSLICE_DIR
"""
import glob
import os
import struct
import sys

MAGIC, ABI = 0x31454349534C5543, 1
RING, HANDOFFS, OVERRUNS, REVOCATIONS, HIST, BUCKETS = 4096, 72, 80, 88, 112, 24


def percentile(hist, q):
    total = sum(hist)
    if total == 0:
        return 0
    seen = 0
    for b, n in enumerate(hist):
        seen += n
        if seen >= q * total:
            return 1 << b
    return 1 << (len(hist) - 1)


for path in sorted(glob.glob(os.path.join(sys.argv[1], "gpu-*.shm"))):
    data = open(path, "rb").read()
    magic, abi = struct.unpack_from("<QI", data, 0)
    if magic != MAGIC or abi != ABI:
        print("ringstat %s: not a cuslice ABI %d file" % (path, ABI))
        continue
    q = lambda off: struct.unpack_from("<Q", data, RING + off)[0]  # noqa: E731
    hist = list(struct.unpack_from("<%dQ" % BUCKETS, data, RING + HIST))
    print("ringstat handoffs=%d overruns=%d revocations=%d handoff_p50_us=%d handoff_p99_us=%d "
          "handoff_samples=%d" % (q(HANDOFFS), q(OVERRUNS), q(REVOCATIONS),
                                  percentile(hist, 0.5), percentile(hist, 0.99), sum(hist)))

"""jax_caps.py - JAX under a 4 GiB cap (issue 3 evidence).

XLA sizes its preallocation from cuMemGetInfo's total: under the cap it must
take 75% of the cap, not 75% of the card, and a jitted matmul must run.
run.sh runs it under LD_PRELOAD=libcuslice.so with CUSLICE_MEM_LIMIT=4G.

RESULT jax_prealloc bytes_limit=N cap=N expected=N real_used=N ok=0|1
RESULT jax_matmul ok=0|1
"""
import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvml_ctypes  # noqa: E402

CAP = int(os.environ.get("CAP_BYTES", 4 << 30))


def main():
    dev = jax.devices()[0]
    x = jax.random.normal(jax.random.PRNGKey(0), (4096, 4096), dtype=jnp.float32)
    y = jax.jit(lambda a: a @ a)(x).block_until_ready()
    stats = dev.memory_stats() or {}
    limit = int(stats.get("bytes_limit", 0))
    expected = int(0.75 * CAP)
    try:
        real = nvml_ctypes.process_used(nvml_ctypes.device(0))
    except Exception:
        real = 0
    ok = abs(limit - expected) <= 0.05 * CAP and (real == 0 or real <= CAP)
    print("RESULT jax_prealloc bytes_limit=%d cap=%d expected=%d real_used=%d ok=%d"
          % (limit, CAP, expected, real, int(ok)), flush=True)
    print("RESULT jax_matmul ok=%d" % int(bool(jnp.isfinite(y).all())), flush=True)


if __name__ == "__main__":
    main()

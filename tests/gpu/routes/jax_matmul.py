"""jax_matmul.py - JAX workload for the real-GPU interception suite.

A jitted matmul + tanh on the GPU against numpy. XLA's allocator reserves
most of the card with one cuMemCreate at start-up (REFERENCE.md section 2),
so this is the workload that shows whether cuMemCreate is seen. Prints
"PASS" or exits 1.
"""
import sys

import numpy as np

import jax
import jax.numpy as jnp


def main():
    devs = jax.devices()
    print("jax", jax.__version__, "devices", devs)
    if devs[0].platform != "gpu":
        print("FAIL no GPU device")
        return 1
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 512), dtype=np.float32)
    b = rng.standard_normal((512, 768), dtype=np.float32)

    @jax.jit
    def f(x, y):
        return jnp.tanh(jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST)) + 1.0

    got = np.asarray(f(a, b).block_until_ready())
    got2 = np.asarray(f(a * 0.5, b).block_until_ready())  # the compiled function again
    ref = np.tanh(a.astype(np.float64) @ b.astype(np.float64)) + 1.0
    ref2 = np.tanh((a * 0.5).astype(np.float64) @ b.astype(np.float64)) + 1.0
    err = max(np.abs(got - ref).max(), np.abs(got2 - ref2).max())
    s = float(jnp.sum(jnp.arange(1000, dtype=jnp.float32)))
    print("max abs error %.3g, sum %.1f" % (err, s))
    if err < 1e-3 and s == 499500.0:
        print("PASS")
        return 0
    print("FAIL results differ from numpy")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""cupy_ops.py - CuPy workload for the real-GPU interception suite.

Elementwise arithmetic, a user ElementwiseKernel, a reduction and a matmul,
each checked against numpy. CuPy reaches the driver both through its cudart
and through ctypes/dlsym. Prints "PASS" or exits 1.
"""
import sys

import numpy as np

import cupy as cp


def main():
    print("cupy", cp.__version__, "device", cp.cuda.runtime.getDeviceProperties(0)["name"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1 << 20).astype(np.float32)
    y = rng.standard_normal(1 << 20).astype(np.float32)
    gx, gy = cp.asarray(x), cp.asarray(y)
    ok = True

    got = cp.asnumpy(gx * 2.0 + gy)
    ok &= np.array_equal(got, x * np.float32(2.0) + y)
    print("elementwise", ok)

    saxpy = cp.ElementwiseKernel("float32 a, float32 x, float32 y", "float32 z",
                                 "z = a * x + y", "cuslice_saxpy")
    got = cp.asnumpy(saxpy(np.float32(3.0), gx, gy))
    e1 = np.abs(got - (np.float32(3.0) * x + y)).max()
    ok &= e1 < 1e-5
    print("ElementwiseKernel max error %.3g" % e1)

    s = float(cp.sum(gx.astype(cp.float64)))
    e2 = abs(s - float(x.astype(np.float64).sum()))
    ok &= e2 < 1e-6 * max(1.0, abs(s))
    print("sum error %.3g" % e2)

    a = rng.standard_normal((512, 256)).astype(np.float64)
    b = rng.standard_normal((256, 384)).astype(np.float64)
    got = cp.asnumpy(cp.asarray(a) @ cp.asarray(b))
    e3 = np.abs(got - a @ b).max()
    ok &= e3 < 1e-9
    print("matmul (float64) max error %.3g" % e3)
    cp.cuda.Device(0).synchronize()
    if ok:
        print("PASS")
        return 0
    print("FAIL results differ from numpy")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""numpy/scipy timings for the intensity rows of `cargo xtask bench` (same row names).

Prints {"row name": median milliseconds} as JSON. The phantom is the one of
xtask/src/bench/intensity.rs: a noisy ellipsoid of tissue in zero air, 256^3 f32, Fortran order.
"""
import json
import time

import numpy as np
import scipy.ndimage as ndi

N = 256
RUNS = 5


def phantom(n):
    c = (n - 1) / 2
    i, j, k = np.meshgrid(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), indexing="ij")
    x = (i.astype(np.float32) - c) / c
    y = (j.astype(np.float32) - c) / np.float32(0.9 * c)
    z = (k.astype(np.float32) - c) / np.float32(0.8 * c)
    r2 = x * x + y * y + z * z
    h = ((i * 73856093) ^ (j * 19349663) ^ (k * 83492791)) % 1000
    v = 100 * (1 - r2) + 20 + h.astype(np.float32) / 50
    return np.asfortranarray(np.where(r2 > 1, np.float32(0), v).astype(np.float32))


def median_ms(f):
    f()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def zscore_nonzero(x):
    nz = x[x != 0]
    return (x - nz.mean()) / nz.std()


def bias_field(x, order, coefficients):
    shape = np.array(x.shape)
    ranges = [np.arange(-n, n) + 0.5 for n in shape / 2]
    field = np.zeros(shape)
    xm, ym, zm = np.asarray(np.meshgrid(*ranges))
    xm /= xm.max(); ym /= ym.max(); zm /= zm.max()
    i = 0
    for a in range(order + 1):
        for b in range(order + 1 - a):
            for c in range(order + 1 - (a + b)):
                field += np.transpose(coefficients[i] * xm**a * ym**b * zm**c, (1, 0, 2))
                i += 1
    return x * np.exp(field).astype(np.float32)


x = phantom(N)
rng = np.random.default_rng(7)
coefficients = [0.02 * (i % 7) - 0.06 for i in range(20)]
rows = {
    "percentile clip 5/95, 256^3 f32": lambda: np.clip(x, *np.percentile(x, [5, 95])),
    "z-score over non-zero, 256^3 f32": lambda: zscore_nonzero(x),
    "min-max to [0,1], 256^3 f32": lambda: (x - x.min()) / (x.max() - x.min()),
    "clip 20..80, 256^3 f32": lambda: np.clip(x, 20, 80),
    "gamma 0.8, 256^3 f32": lambda: np.sign(x) * np.abs(x) ** np.float32(0.8),
    "gaussian blur sigma 2 vox, 256^3 f32": lambda: ndi.gaussian_filter(x, 2.0),
    "gaussian noise std 1, 256^3 f32": lambda: x + rng.normal(0, 1, x.shape).astype(np.float32),
    "bias field order 3, 256^3 f32": lambda: bias_field(x, 3, coefficients),
}
print(json.dumps({name: median_ms(f) for name, f in rows.items()}))

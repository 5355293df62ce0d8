"""scipy.ndimage / numpy baseline for `cargo xtask bench geometry`.

Times scipy 1.17 on the same operations as `xtask/src/bench/geometry.rs`, on the same 256^3 f32
phantom (Fortran order, as nibabel's get_fdata gives it). Prints {"row name": median ms} as JSON.
"""

import json

import numpy as np
from scipy import ndimage as nd

import time

N = 256


def phantom(n=N):
    """The smooth head-like phantom of xtask/python/io.py (same formula as the Rust side)."""
    c = (n - 1) / 2.0
    i = (np.arange(n, dtype=np.float64) - c) / (n / 2.0)
    x, y, z = np.meshgrid(i, i, i, indexing="ij")
    r = np.sqrt((x / 0.8) ** 2 + (y / 0.95) ** 2 + (z / 0.9) ** 2)
    head = 1.0 / (1.0 + np.exp((r - 1.0) * 40.0))
    brain = 1.0 / (1.0 + np.exp((r - 0.85) * 40.0))
    texture = 1.0 + 0.1 * np.sin(8.0 * x) * np.cos(6.0 * y) * np.sin(5.0 * z)
    v = 300.0 * head + 500.0 * brain * texture
    v[r > 1.05] = 0.0
    return v.astype(np.float32)


def median_ms(f, runs=5):
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]

ANGLE = 15.0
MATRIX = np.array([[0.95, 0.1, 0.02], [-0.08, 1.05, 0.05], [0.03, -0.04, 0.9]])
OFFSET = np.array([5.0, -3.0, 8.0])


def main():
    data = np.asfortranarray(phantom())
    rows = {
        "rotate order 1, 256^3 f32": lambda: nd.rotate(data, ANGLE, axes=(0, 1), reshape=False, order=1),
        "rotate order 3, 256^3 f32": lambda: nd.rotate(data, ANGLE, axes=(0, 1), reshape=False, order=3),
        "affine order 1, 256^3 f32": lambda: nd.affine_transform(data, MATRIX, OFFSET, order=1),
        "zoom 0.5 order 1, 256^3 f32": lambda: nd.zoom(data, 0.5, order=1),
        "flip axis 0, 256^3 f32": lambda: np.flip(data, 0).copy(order="K"),
        "crop 200^3, 256^3 f32": lambda: data[28:228, 28:228, 28:228].copy(order="K"),
        "copy (memcpy), 256^3 f32": lambda: data.copy(order="K"),
    }
    runs = {"rotate order 3, 256^3 f32": 3}
    print(json.dumps({name: median_ms(f, runs.get(name, 5)) for name, f in rows.items()}))


if __name__ == "__main__":
    main()

"""scipy baseline for `cargo xtask bench elastic`.

The tutorial's elastic deformation (Simard et al. 2003), as it is written there: three fields of
uniform noise in [-1, 1], each `gaussian_filter(..., sigma=35, mode="constant", cval=0)` and
scaled by alpha 4, then a linear `map_coordinates` of the image with background 0.1. And a
batchgenerators/TorchIO-style control grid done with scipy (7^3 random control points, cubic
`zoom` to a dense field, linear `map_coordinates`). TorchIO itself is not installed here.

Full-size noise smoothed with a 35-voxel Gaussian takes minutes at 256^3, so both run on 128^3
and the time is multiplied by 8 (both are linear in the voxel count); the row names are the
Rust side's (256^3). Prints {"row name": ms} as JSON.
"""

import json
import time

import numpy as np
from scipy import ndimage as nd

N = 128  # run size; reported x (256 / N)^3
SCALE = (256 / N) ** 3


def phantom(n=N):
    c = (n - 1) / 2.0
    i = (np.arange(n, dtype=np.float64) - c) / (n / 2.0)
    x, y, z = np.meshgrid(i, i, i, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    return np.asfortranarray(np.where(r < 0.7, 100.0, 0.0).astype(np.float32))


def tutorial_elastic(image, alpha=4.0, sigma=35.0, bg_val=0.1, rng=np.random.default_rng(0)):
    shape = image.shape
    dx = nd.gaussian_filter(rng.random(shape) * 2 - 1, sigma, mode="constant", cval=0) * alpha
    dy = nd.gaussian_filter(rng.random(shape) * 2 - 1, sigma, mode="constant", cval=0) * alpha
    dz = nd.gaussian_filter(rng.random(shape) * 2 - 1, sigma, mode="constant", cval=0) * alpha
    x, y, z = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
    indices = x + dx, y + dy, z + dz
    return nd.map_coordinates(image, indices, order=1, mode="constant", cval=bg_val)


def control_grid_elastic(image, points=7, max_mm=7.5, rng=np.random.default_rng(0)):
    shape = image.shape
    coords = list(np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij"))
    for a in range(3):
        coarse = (rng.random((points,) * 3) * 2 - 1) * max_mm
        coarse[:2] = coarse[-2:] = 0
        coarse[:, :2] = coarse[:, -2:] = 0
        coarse[:, :, :2] = coarse[:, :, -2:] = 0
        dense = nd.zoom(coarse, [s / points for s in shape], order=3, grid_mode=True, mode="grid-constant")
        coords[a] += dense
    return nd.map_coordinates(image, coords, order=1, mode="constant", cval=0)


def once_ms(f):
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1e3


def main():
    image = phantom()
    rows = {
        "elastic simard (tutorial) 256^3 f32": once_ms(lambda: tutorial_elastic(image)) * SCALE,
        "elastic control grid 256^3 f32": once_ms(lambda: control_grid_elastic(image)) * SCALE,
    }
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""nibabel 5 baseline for `cargo xtask bench io`.

Times nibabel on the same operations as `xtask/src/bench/io.rs`, on the same 256^3 f32
phantom (a smooth head-like volume, see `phantom()`; the Rust side builds it with the same
formula), written to a temporary directory. Prints {"row name": median milliseconds} as JSON.
"""

import json
import os
import sys
import tempfile
import time

import nibabel as nib
import numpy as np

N = 256
RUNS = 5


def phantom(n=N):
    """A smooth head-like phantom: ellipsoidal 'skull' and 'brain' with soft edges and a gentle
    texture, zero outside. Same formula as `phantom` in xtask/src/bench/io.rs."""
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


def median_ms(f, runs=RUNS):
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    data = phantom()
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    img = nib.Nifti1Image(data, affine)
    # nibabel 5's default gzip level is 1; say so explicitly so the comparison is fair.
    nib.openers.Opener.default_compresslevel = 1
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        # mmap=False: read the voxels into memory, as voxflow does (a memory map would defer it).
        for ext, label in ((".nii", ".nii"), (".nii.gz", ".nii.gz level 1")):
            path = os.path.join(tmp, "phantom" + ext)
            out[f"nifti write {label}, 256^3 f32"] = median_ms(lambda: nib.save(img, path))
            out[f"nifti read {label}, 256^3 f32"] = median_ms(
                lambda: np.asarray(nib.load(path, mmap=False).get_fdata(dtype=np.float32))
            )
            print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

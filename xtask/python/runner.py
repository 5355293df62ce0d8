"""Baseline for the runner area: the tutorial's chain with numpy/scipy/nibabel on MNI-sized
cases (image + label), per case with 4 outputs (load once, then 4 x augment + save).

The tutorial's elastic step smooths full-size noise with a 35-voxel Gaussian, which takes
seconds per volume, so this runs ONE case with TWO outputs and scales to 4 outputs per case:
ms/case = load + 4 x mean(ms per output). Prints {"row name": ms} as JSON.
"""
import json
import os
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy.ndimage as ndi

ROOT = Path(__file__).resolve().parents[2]
ROW = "tutorial graph, MNI image+label, 4 outputs (per case)"


def augment(img, lab, rng):
    # resize to 128^3 (tutorial: ndimage.zoom)
    f = [128 / s for s in img.shape]
    im = ndi.zoom(img, f, order=1)
    lb = ndi.zoom(lab, f, order=0)
    # random zoom in [0.7, 1.2] (tutorial: affine_transform with diag(z), default order 3)
    z = rng.uniform(0.7, 1.2)
    m = np.diag([z, z, z, 1.0])
    im = ndi.affine_transform(im, m)
    lb = ndi.affine_transform(lb, m, order=0)
    # random rotation: integer angle, one random plane (tutorial: ndimage.rotate)
    angle = int(rng.integers(-15, 16))
    axes = [(1, 0), (1, 2), (0, 2)][int(rng.integers(3))]
    im = ndi.rotate(im, angle, axes=axes, reshape=False)
    lb = ndi.rotate(lb, angle, axes=axes, reshape=False, order=0)
    # random flip, one axis
    ax = int(rng.integers(3))
    im = np.flip(im, ax)
    lb = np.flip(lb, ax)
    # random shift: integer offsets up to +-dim*0.4/2 (each axis' own size)
    m = np.eye(4)
    m[:3, 3] = [int(rng.integers(-int(d * 0.2), int(d * 0.2) + 1)) for d in im.shape]
    im = ndi.affine_transform(im, m)
    lb = ndi.affine_transform(lb, m, order=0)
    # random crop 112^3
    c = [int(rng.integers(0, d - 112 + 1)) for d in im.shape]
    sl = tuple(slice(o, o + 112) for o in c)
    im = im[sl]
    lb = lb[sl]
    # percentile clip 5..95, normalise over non-zero voxels
    lo, hi = np.percentile(im, [5, 95])
    im = np.clip(im, lo, hi)
    nz = im[im != 0]
    im = (im - nz.mean()) / (nz.std() or 1.0)
    # elastic (Simard): uniform noise smoothed with sigma 35, alpha 4, linear / nearest
    shape = im.shape
    d = [ndi.gaussian_filter(rng.uniform(-1, 1, shape), 35, mode="constant", cval=0) * 4 for _ in range(3)]
    grid = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    coords = [g + di for g, di in zip(grid, d)]
    im = ndi.map_coordinates(im, coords, order=1, cval=0.1).astype(np.float32)
    lb = ndi.map_coordinates(lb, coords, order=0)
    return im, lb


def main():
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        img_nii = nib.load(ROOT / "data/mni152_t1.nii.gz")
        img = img_nii.get_fdata(dtype=np.float32)
        lab = np.asarray(nib.load(ROOT / "data/mni152_tissue_labels.nii.gz").dataobj)
        load_ms = (time.perf_counter() - t0) * 1e3
        outputs = int(os.environ.get("VOXFLOW_BENCH_PY_OUTPUTS", "2"))
        times = []
        for o in range(outputs):
            t0 = time.perf_counter()
            im, lb = augment(img, lab, rng)
            nib.save(nib.Nifti1Image(im, img_nii.affine), os.path.join(tmp, f"image_{o}.nii.gz"))
            nib.save(nib.Nifti1Image(lb.astype(np.uint8), img_nii.affine), os.path.join(tmp, f"label_{o}.nii.gz"))
            times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({ROW: load_ms + 4 * float(np.mean(times))}))


if __name__ == "__main__":
    main()

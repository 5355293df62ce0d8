#!/usr/bin/env python3
"""Reference outputs for voxflow's label ops (crates/labels), from numpy and scipy.

Usage:  python make_labels_reference.py [OUT_DIR] [--data DATA_DIR]
        (defaults: crates/labels/tests/data and data/ of this checkout)

Writes OUT_DIR/inputs/*.nii.gz, OUT_DIR/expected/<case>.nii.gz and OUT_DIR/cases.json. Each
case names the input (and the kind `load` reads it as), the op and its params (the graph the
Rust test builds is `load -> op -> save`), the expected file, and `call`: the exact numpy/scipy
statements that produced the expected voxels from `x` (the input as voxflow loads it: label
maps in their stored integer type, images as float32). Everything is seeded, and nibabel's gzip
writes mtime 0, so reruns write identical bytes.

Inputs:
* synthetic.nii.gz: 24x20x16 uint8, labels 1-5 built so that 6-, 18- and 26-connectivity give
  different components (voxels touching only along an edge or only at a corner), with two
  equally large components of label 2 (the tie `np.argmax` settles by scipy's numbering), plus
  seeded sparse label-3 voxels (many tiny components). Oblique-free affine with 1.5 mm spacing
  and an offset, so a lost affine shows.
* mni_crop.nii.gz: data/mni152_tissue_labels.nii.gz (uint8, labels 0/1/2) cropped to
  [60:108, 70:126, 50:90] (48x56x40), the affine's offset moved accordingly.
* probs.nii.gz: 12x10x8x4 float32, values rounded to 0.1 so ties between frames are common,
  with a few NaN voxels (numpy's argmax: the first NaN wins).
"""

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def synthetic():
    x = np.zeros((24, 20, 16), np.uint8)
    # Label 1: a big block, a face-touching tail, an edge-only and a corner-only neighbour,
    # and a separate small block.
    x[2:10, 2:9, 2:8] = 1
    x[10, 4, 4] = 1  # face neighbour of the block: same component for every connectivity
    x[10, 9, 5] = 1  # touches (9, 8, 5) along an edge only: joins at 18 and 26
    x[10, 9, 8] = 1  # touches (9, 8, 7) at a corner only: joins at 26
    x[14:16, 14:16, 2:4] = 1  # separate: 8 voxels
    # Label 2: two separate 3x3x3 blocks (a tie for the largest; scipy numbers in C order), a diagonal chain and a bar.
    x[14:17, 2:5, 10:13] = 2
    x[19:22, 2:5, 2:5] = 2  # first in Fortran order, second in C order (scipy keeps the other)
    for k in range(5):
        x[3 + k, 12 + k, 12] = 2  # an in-plane diagonal: 18- and 26-connected, not 6
    for k in range(4):
        x[12 + k, 12 + k, 6 + k] = 2  # a space diagonal: 26-connected only
    x[20, 15:19, 2] = 2
    # Label 4 touches label 1 (components are per label: it must not merge with label 1).
    x[2:10, 2:9, 8:10] = 4
    x[2:4, 2:4, 11] = 4  # separated from the slab by z = 10
    # Label 5: a few voxels, two components at any connectivity.
    x[22, 18, 14] = 5
    x[22, 18, 15] = 5
    x[1, 18, 1] = 5
    # Sparse label 3 over the background: many tiny components of every kind.
    rng = np.random.default_rng(20240611)
    sparse = (rng.random(x.shape) < 0.06) & (x == 0)
    x[sparse] = 3
    affine = np.array(
        [[1.5, 0, 0, -20.0], [0, 1.5, 0, -16.0], [0, 0, 1.5, 12.0], [0, 0, 0, 1]], dtype=np.float64
    )
    return x, affine


def mni_crop(data_dir):
    img = nib.load(data_dir / "mni152_tissue_labels.nii.gz")
    x = np.asanyarray(img.dataobj)[60:108, 70:126, 50:90].copy()
    affine = img.affine.copy()
    affine[:3, 3] = affine[:3, :3] @ np.array([60, 70, 50]) + affine[:3, 3]
    return x, affine


def probs():
    rng = np.random.default_rng(7)
    x = np.round(rng.random((12, 10, 8, 4)) * 0.5, 1).astype(np.float32)
    x[3, 4, 5, 2] = np.nan
    x[7, 1, 2, 0] = np.nan
    x[7, 1, 2, 3] = np.nan
    return x


def structure(connectivity):
    return ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])


def labels_of(x, labels):
    return [int(v) for v in np.unique(x) if v != 0] if labels is None else labels


def keep_largest(x, connectivity=26, labels=None, fill=0):
    out = x.copy()
    for l in labels_of(x, labels):
        lab, n = ndimage.label(x == l, structure(connectivity))
        if n == 0:
            continue
        keep = np.argmax(np.bincount(lab.ravel())[1:]) + 1
        out[(lab > 0) & (lab != keep)] = fill
    return out


def remove_small(x, min_voxels, connectivity=26, labels=None, fill=0):
    out = x.copy()
    for l in labels_of(x, labels):
        lab, n = ndimage.label(x == l, structure(connectivity))
        sizes = np.bincount(lab.ravel())
        out[(lab > 0) & (sizes[lab] < min_voxels)] = fill
    return out


def remap(x, mapping, default=None, dtype=None):
    out = np.full(x.shape, default, dtype=dtype or x.dtype) if default is not None else x.astype(dtype or x.dtype)
    for k, v in mapping.items():
        out[x == int(k)] = v
    return out


def merge_map(x, regions):
    out = np.zeros_like(x)
    for i, r in enumerate(regions, 1):
        out[np.isin(x, r["labels"])] = i
    return out


def merge_channels(x, regions):
    return np.stack([np.isin(x, r["labels"]) for r in regions], -1).astype(np.float32)


def one_hot(x, classes):
    return np.stack([x == c for c in classes], -1).astype(np.float32)


def argmax(x, classes, dtype):
    return np.asarray(classes, dtype=dtype)[np.argmax(x, axis=-1)]


BRATS = [
    {"name": "whole_tumor", "labels": [1, 2, 3]},
    {"name": "tumor_core", "labels": [1, 3]},
    {"name": "enhancing", "labels": [3]},
]
TISSUE = [{"name": "tissue", "labels": [1, 2]}, {"name": "label2", "labels": [2]}]

# (case, input, op, params, call): `call` is evaluated with x = the input's voxels.
CASES = [
    ("remap_basic", "synthetic", "remap_labels", {"mapping": {"1": 2, "4": 3}},
     "remap(x, {'1': 2, '4': 3})"),
    ("remap_swap", "synthetic", "remap_labels", {"mapping": {"1": 2, "2": 1}},
     "remap(x, {'1': 2, '2': 1})"),
    ("remap_default_int16", "synthetic", "remap_labels",
     {"mapping": {"1": 300, "2": -5}, "default": 0, "dtype": "int16"},
     "remap(x, {'1': 300, '2': -5}, default=0, dtype=np.int16)"),
    ("remove_3_5", "synthetic", "remove_labels", {"labels": [3, 5]},
     "y = x.copy(); y[np.isin(x, [3, 5])] = 0"),
    ("remove_fill", "synthetic", "remove_labels", {"labels": [4], "fill": 1},
     "y = x.copy(); y[np.isin(x, [4])] = 1"),
    ("merge_map_brats", "synthetic", "merge_labels", {"regions": BRATS, "output": "map"},
     "merge_map(x, BRATS)  # out[np.isin(x, r)] = i, i = 1..N in order"),
    ("merge_channels_brats", "synthetic", "merge_labels", {"regions": BRATS, "output": "channels"},
     "merge_channels(x, BRATS)  # np.stack([np.isin(x, r['labels']) for r in BRATS], -1).astype(np.float32)"),
    ("one_hot_all", "synthetic", "one_hot", {"classes": [0, 1, 2, 3, 4, 5]},
     "np.stack([x == c for c in [0, 1, 2, 3, 4, 5]], -1).astype(np.float32)"),
    ("one_hot_unknown_zero", "synthetic", "one_hot", {"classes": [2, 0, 1], "unknown": "zero"},
     "np.stack([x == c for c in [2, 0, 1]], -1).astype(np.float32)"),
    ("argmax_ties_nan", "probs", "argmax", {"classes": [0, 1, 2, 4], "dtype": "uint8"},
     "np.asarray([0, 1, 2, 4], np.uint8)[np.argmax(x, axis=-1)]"),
    ("argmax_int16", "probs", "argmax", {"classes": [-1, 10, 200, 1000], "dtype": "int16"},
     "np.asarray([-1, 10, 200, 1000], np.int16)[np.argmax(x, axis=-1)]"),
]
for c in (6, 18, 26):
    CASES += [
        (f"keep_largest_c{c}", "synthetic", "keep_largest_component", {"connectivity": c},
         f"keep_largest(x, {c})  # per l: lab, n = ndimage.label(x == l, generate_binary_structure(3, {c // 8 or 1})); keep np.argmax(np.bincount(lab.ravel())[1:]) + 1"),
        (f"remove_small3_c{c}", "synthetic", "remove_small_components", {"min_voxels": 3, "connectivity": c},
         f"remove_small(x, 3, {c})  # per l: lab = ndimage.label(x == l, ...); out[(lab > 0) & (np.bincount(lab.ravel())[lab] < 3)] = 0"),
    ]
CASES += [
    ("keep_largest_label2_fill", "synthetic", "keep_largest_component",
     {"connectivity": 6, "labels": [2], "fill": 5},
     "keep_largest(x, 6, labels=[2], fill=5)"),
    ("remove_small8_labels_1_3_c18", "synthetic", "remove_small_components",
     {"min_voxels": 8, "connectivity": 18, "labels": [1, 3]},
     "remove_small(x, 8, 18, labels=[1, 3])"),
    ("mni_keep_largest_c6", "mni_crop", "keep_largest_component", {"connectivity": 6},
     "keep_largest(x, 6)"),
    ("mni_keep_largest_c26", "mni_crop", "keep_largest_component", {},
     "keep_largest(x, 26)"),
    ("mni_remove_small20_c6", "mni_crop", "remove_small_components", {"min_voxels": 20, "connectivity": 6},
     "remove_small(x, 20, 6)"),
    ("mni_remap_swap_uint16", "mni_crop", "remap_labels", {"mapping": {"1": 2, "2": 1}, "dtype": "uint16"},
     "remap(x, {'1': 2, '2': 1}, dtype=np.uint16)"),
    ("mni_merge_map", "mni_crop", "merge_labels", {"regions": TISSUE, "output": "map"},
     "merge_map(x, TISSUE)"),
    ("mni_one_hot", "mni_crop", "one_hot", {"classes": [0, 1, 2]},
     "np.stack([x == c for c in [0, 1, 2]], -1).astype(np.float32)"),
]


def save(path, data, affine):
    img = nib.Nifti1Image(data, affine)
    img.set_data_dtype(data.dtype)
    img.header.set_xyzt_units("mm", "sec")
    # sform and qform both set from the affine, as nibabel does by default.
    nib.save(img, path)


def evaluate(call, x):
    env = dict(globals(), x=x)
    if call.lstrip().startswith("y ="):
        exec(call.split("#")[0], env)
        return env["y"]
    return eval(call.split("#")[0], env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=str(ROOT / "crates/labels/tests/data"))
    ap.add_argument("--data", default=str(ROOT / "data"))
    args = ap.parse_args()
    out = Path(args.out)
    (out / "inputs").mkdir(parents=True, exist_ok=True)
    (out / "expected").mkdir(parents=True, exist_ok=True)

    syn, syn_affine = synthetic()
    mni, mni_affine = mni_crop(Path(args.data))
    inputs = {
        "synthetic": (syn, syn_affine, "label"),
        "mni_crop": (mni, mni_affine, "label"),
        "probs": (probs(), syn_affine, "image"),
    }
    for name, (data, affine, _) in inputs.items():
        save(out / "inputs" / f"{name}.nii.gz", data, affine)
    # Read back as voxflow's `load` reads them.
    loaded = {}
    for name, (_, _, kind) in inputs.items():
        img = nib.load(out / "inputs" / f"{name}.nii.gz")
        x = np.asanyarray(img.dataobj) if kind == "label" else img.get_fdata(dtype=np.float64).astype(np.float32)
        loaded[name] = (x, img.affine)

    # The structures the op's connectivity stands for.
    assert structure(6).sum() == 7 and structure(18).sum() == 19 and structure(26).sum() == 27
    # The synthetic volume does tell the connectivities apart.
    counts = {c: ndimage.label(syn == 1, structure(c))[1] for c in (6, 18, 26)}
    assert counts[6] > counts[18] > counts[26], counts

    manifest = []
    for case, input_name, op, params, call in CASES:
        x, affine = loaded[input_name]
        y = evaluate(call, x)
        kind = "image" if y.dtype == np.float32 else "label"
        save(out / "expected" / f"{case}.nii.gz", y, affine)
        values, counts_ = np.unique(y, return_counts=True)
        manifest.append({
            "case": case,
            "input": f"inputs/{input_name}.nii.gz",
            "input_kind": inputs[input_name][2],
            "op": op,
            "params": params,
            "expected": f"expected/{case}.nii.gz",
            "expected_kind": kind,
            "expected_dtype": str(y.dtype),
            "expected_shape": list(y.shape),
            "call": call,
            "histogram": {str(v): int(c) for v, c in zip(values, counts_)} if kind == "label" else None,
        })
    manifest_doc = {
        "generator": "scripts/labels_reference/make_labels_reference.py",
        "versions": {"numpy": np.__version__, "scipy": __import__("scipy").__version__, "nibabel": nib.__version__},
        "helpers": "keep_largest, remove_small, remap, merge_map: see the generator",
        "cases": manifest,
    }
    (out / "cases.json").write_text(json.dumps(manifest_doc, indent=1) + "\n")
    print(f"{len(manifest)} cases, components of label 1 by connectivity: {counts}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Check that nibabel reads what voxflow wrote.

Usage: scripts/nibabel_check.py OUTDIR DATADIR

OUTDIR holds the files written by
`cargo run -p voxflow-io-nifti --example write_samples -- DATADIR OUTDIR`
(each sample of DATADIR written by voxflow as <stem>.nii.gz). For every file in OUTDIR, load it
and the original with nibabel and compare: the affine within 1e-5, the voxel values (images:
voxflow stores float32, so within float32 rounding of the original's scaled values; label maps:
exactly, with the same integer dtype), and that the header is a sane NIfTI-1 (sform code set,
qform matching the affine). Exits non-zero with a message naming the file on any mismatch.
"""

import os
import sys

import nibabel as nib
import numpy as np


def original_for(stem, datadir):
    for ext in (".nii", ".nii.gz"):
        p = os.path.join(datadir, stem + ext)
        if os.path.exists(p):
            return p
    return None


def check(written, original):
    """Returns a list of problems (empty when all is well)."""
    problems = []
    w = nib.load(written)
    o = nib.load(original)
    if w.shape != o.shape:
        problems.append(f"shape {w.shape} != original {o.shape}")
        return problems
    if not np.allclose(w.affine, o.affine, rtol=0, atol=1e-5):
        problems.append(f"affine differs:\n{w.affine}\nvs original\n{o.affine}")
    hdr = w.header
    if int(hdr["sform_code"]) == 0:
        problems.append("sform_code is 0")
    if int(hdr["qform_code"]) != 0 and not np.allclose(hdr.get_qform(), o.affine, rtol=0, atol=1e-4):
        problems.append(f"qform differs from the affine:\n{hdr.get_qform()}")
    if "label" in os.path.basename(written):
        wd = np.asarray(w.dataobj)
        od = np.asarray(o.dataobj)
        if wd.dtype != od.dtype:
            problems.append(f"label dtype {wd.dtype} != original {od.dtype}")
        if not np.array_equal(wd, od):
            problems.append(f"label values differ at {int(np.sum(wd != od))} voxels")
    else:
        wd = w.get_fdata()
        od = o.get_fdata().astype(np.float32).astype(np.float64)
        if w.get_data_dtype() != np.float32:
            problems.append(f"image stored as {w.get_data_dtype()}, expected float32")
        if not np.array_equal(wd, od):
            bad = np.abs(wd - od)
            problems.append(f"values differ: max abs difference {bad.max()} at {int(np.sum(bad > 0))} voxels")
    return problems


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, datadir = argv[1], argv[2]
    written = sorted(f for f in os.listdir(outdir) if f.endswith(".nii") or f.endswith(".nii.gz"))
    if not written:
        print(f"nibabel_check: no NIfTI files in {outdir}", file=sys.stderr)
        return 1
    failed = 0
    for name in written:
        stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else name[: -len(".nii")]
        original = original_for(stem, datadir)
        path = os.path.join(outdir, name)
        if original is None:
            print(f"FAIL {path}: no original {stem}.nii[.gz] in {datadir}")
            failed += 1
            continue
        try:
            problems = check(path, original)
        except Exception as e:  # nibabel refusing the file is a failure to report, not a crash
            problems = [f"nibabel cannot load it: {type(e).__name__}: {e}"]
        if problems:
            failed += 1
            print(f"FAIL {path} (original {original}):")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"ok   {path}")
    if failed:
        print(f"nibabel_check: {failed} of {len(written)} files do not match", file=sys.stderr)
        return 1
    print(f"nibabel_check: all {len(written)} files match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

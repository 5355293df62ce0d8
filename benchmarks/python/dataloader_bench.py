#!/usr/bin/env python3
"""Throughput of the tutorial augmentation pipeline in a PyTorch DataLoader:
voxflow vs TorchIO vs MONAI, measured in one run on one machine.

The pipeline is graphs/tutorial.json (one case, MNI152 T1 + tissue labels):

    load image, label
    resize to 128^3 (image linear, label nearest)
    random_scale   factor U[0.7, 1.2], one factor for all axes, about the centre
    random_rotate  one plane of (1,0) (1,2) (0,2), whole degrees in [-15, 15], about the centre
    random_flip    one axis of x, y, z, always (p = 1)
    random_shift   each axis U[-20 %, 20 %] of its size, rounded to whole voxels
    random_crop    112^3 at a uniform random corner
    percentile_clip 5..95, percentiles over the label mask (label != 0)
    normalize      z-score, mean/std over the label mask
    random_elastic Simard model, alpha U[0, 900], sigma U[9, 13] voxels (batchgenerators'
                   ranges, voxflow's defaults), image linear, label nearest, fill 0
    -> image 112^3 float32, label 112^3

voxflow fuses resize..crop into ONE resample from the original grid (the chain of spatial ops is
composed into a single matrix) and runs the elastic warp as a second resample. TorchIO and MONAI
resample once per transform (MONAI's `Compose(lazy=True)` can fuse like voxflow: the
`monai-lazy` row). The comments in build_torchio() / build_monai() say where each peer transform
differs from voxflow's op.

Every library runs inside torch.utils.data.DataLoader(batch_size=1, num_workers=W) (default
W = 2) over `--warmup` + `--samples` items; the clock starts when the warm-up batches have
arrived and stops at the last one. Each library then runs in the main process
(num_workers=0) for the per-sample time. Every sample is read from disk (the .nii.gz is
decompressed every time, in every library). Threads: each DataLoader worker runs single-threaded
(PyTorch sets torch's threads to 1 in workers; this script also sets SimpleITK's, and voxflow gets
`threads=1`); the single-process run uses `--threads` (default 1) for torch, SimpleITK and voxflow.

Usage (from the repository root):
    /work/venv-bench/bin/python benchmarks/python/dataloader_bench.py
    ... --samples 64 --libs torchio,monai --json out.json

voxflow is skipped ("voxflow not installed") when `import voxflow` fails.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[2]
DEFAULT_GRAPH = REPO / "graphs" / "tutorial.json"
DEFAULT_IMAGE = REPO / "data" / "mni152_t1.nii.gz"
DEFAULT_LABEL = REPO / "data" / "mni152_tissue_labels.nii.gz"

# The tutorial graph's parameters, in one place (read from graphs/tutorial.json by eye; the
# graph is the reference).
RESIZE = 128
SCALE = (0.7, 1.2)
DEGREES = 15.0
SHIFT_FRACTION = 0.2
CROP = 112
PERCENTILES = (5.0, 95.0)
ELASTIC_ALPHA = (0.0, 900.0)  # voxflow random_elastic default (batchgenerators)
ELASTIC_SIGMA = (9.0, 13.0)  # voxels


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def set_threads(n: int) -> None:
    """torch and SimpleITK (TorchIO's resampler) thread counts, for this process."""
    torch.set_num_threads(n)
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n)
    except ImportError:
        pass


# --------------------------------------------------------------------------------------------
# TorchIO
# --------------------------------------------------------------------------------------------


def build_torchio(image_path: Path):
    """The tutorial chain as TorchIO transforms (on a tio.Subject: ScalarImage + LabelMap)."""
    import nibabel as nib
    import torchio as tio

    header = nib.load(str(image_path)).header
    extent_mm = np.array(header.get_data_shape()[:3]) * np.array(header.get_zooms()[:3])
    # voxflow: 20 % of each axis' size on the 128^3 grid = 20 % of the physical extent.
    # TorchIO takes millimetres, and draws them continuously (voxflow rounds to whole voxels).
    t = SHIFT_FRACTION * extent_mm
    translation = (-t[0], t[0], -t[1], t[1], -t[2], t[2])

    def affine(degrees):
        # One resample for scale + rotation + translation (voxflow: scale, rotate and shift are
        # fused with resize and crop into one resample).
        # - scales=(0.7, 1.2), isotropic=True: one factor U[0.7, 1.2] for all axes, as voxflow.
        # - degrees: continuous uniform (voxflow draws whole degrees).
        # - default_pad_value=0: voxflow's fill is 0 (TorchIO's default is the image minimum,
        #   which is also 0 for this image).
        return tio.RandomAffine(
            scales=SCALE,
            isotropic=True,
            degrees=degrees,
            translation=translation,
            center="image",
            default_pad_value=0,
            image_interpolation="linear",
            label_interpolation="nearest",
        )

    d = DEGREES
    return tio.Compose(
        [
            # Resample to a 128^3 grid covering the same extent. TorchIO aligns the grids' outer
            # edges (voxflow's default aligns the corner voxel centres, scipy.ndimage.zoom's
            # convention). Labels get nearest neighbour automatically.
            tio.Resize(RESIZE, image_interpolation="linear", label_interpolation="nearest"),
            # voxflow draws ONE rotation plane of three, then an angle in it: OneOf of three
            # RandomAffine, each rotating about one axis only.
            tio.OneOf(
                [
                    affine((-d, d, 0, 0, 0, 0)),  # about x: voxflow plane (1, 2)
                    affine((0, 0, -d, d, 0, 0)),  # about y: plane (0, 2)
                    affine((0, 0, 0, 0, -d, d)),  # about z: plane (1, 0)
                ]
            ),
            # One axis flipped, always (RandomFlip flips each listed axis independently).
            # voxflow flips before the shift; the shift is symmetric, so the distribution is
            # the same.
            tio.OneOf([tio.Flip(axes=(0,)), tio.Flip(axes=(1,)), tio.Flip(axes=(2,))]),
            # TorchIO has no random crop of a fixed size as a transform (only patch samplers for
            # its Queue): a uniform random corner, then tio.Crop.
            TorchioRandomCrop(CROP),
            # Percentile clip over the label mask: RescaleIntensity computes np.percentile over
            # the mask, clips, then maps linearly to [0, 1]. The linear map is invisible after
            # the z-score below, so the two together equal voxflow's clip + z-score.
            tio.RescaleIntensity(out_min_max=(0, 1), percentiles=PERCENTILES, masking_method="label"),
            # z-score over the label mask (TorchIO's std is torch's, ddof=1; voxflow's ddof=0).
            tio.ZNormalization(masking_method="label"),
            # TorchIO's elastic model is a B-spline control grid (7 points per axis, max
            # displacement 7.5 mm, SimpleITK), not Simard's smoothed noise: closest built-in.
            # (voxflow also offers this model: random_elastic with model control_grid.)
            tio.RandomElasticDeformation(
                num_control_points=7,
                max_displacement=7.5,
                image_interpolation="linear",
                label_interpolation="nearest",
            ),
        ]
    )


class TorchioRandomCrop:
    """A CROP^3 box at a uniform random corner (voxflow's random_crop), applied with tio.Crop to
    every image of the subject alike. Defined lazily as a tio.SpatialTransform subclass."""

    def __new__(cls, size: int):
        import torchio as tio

        class RandomCrop(tio.SpatialTransform):
            def __init__(self, size, **kwargs):
                super().__init__(**kwargs)
                self.size = size
                self.args_names = ["size"]

            def apply_transform(self, subject):
                bounds = []
                for n in subject.spatial_shape:
                    # torch's RNG: DataLoader seeds it differently in each worker.
                    start = int(torch.randint(0, n - self.size + 1, (1,)))
                    bounds += [start, n - self.size - start]
                return tio.Crop(bounds)(subject)

        return RandomCrop(size)


class TorchioDataset(Dataset):
    def __init__(self, image: Path, label: Path, length: int):
        import torchio as tio

        self.tio = tio
        self.image, self.label, self.length = str(image), str(label), length
        self.transform = build_torchio(image)

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        tio = self.tio
        subject = tio.Subject(image=tio.ScalarImage(self.image), label=tio.LabelMap(self.label))
        out = self.transform(subject)  # loads both files (lazily), then transforms
        return {
            "image": out["image"].data,
            "label": out["label"].data,
            "image_affine": torch.as_tensor(out["image"].affine),
            "case": "mni152",
            "output": i,
        }


# --------------------------------------------------------------------------------------------
# MONAI
# --------------------------------------------------------------------------------------------


def build_monai(lazy: bool = False):
    """The tutorial chain as MONAI dictionary transforms. With lazy=True, MONAI composes the
    pending spatial transforms (Resized .. RandSpatialCropd) into one resample, like voxflow."""
    from monai import transforms as mt

    keys = ["image", "label"]
    rad = math.radians(DEGREES)
    # MONAI's scale is the sampling grid's (output -> input), the inverse of a magnification, and
    # scale_range is added to 1: magnification f in [0.7, 1.2] is grid scale 1/f in
    # [0.833, 1.429]. MONAI draws it uniform in 1/f and independently per axis (no isotropic
    # option in RandAffined); voxflow draws f uniform, one for all axes.
    scale_range = [(1 / SCALE[1] - 1, 1 / SCALE[0] - 1)] * 3
    # MONAI's translation is in voxels: 20 % of 128. Continuous (voxflow rounds to whole voxels).
    shift = SHIFT_FRACTION * RESIZE
    translate_range = [(-shift, shift)] * 3

    def affine(rotate_range):
        # padding_mode="zeros": voxflow's fill 0 (MONAI's default is "reflection").
        return mt.RandAffined(
            keys,
            prob=1.0,
            rotate_range=rotate_range,
            scale_range=scale_range,
            translate_range=translate_range,
            mode=("bilinear", "nearest"),
            padding_mode="zeros",
        )

    # MONAI's lazy resampling drops each transform's `mode` (MONAI issues #6850, #7363, open
    # in 1.6.1): without these per-key overrides the label map is resampled bilinearly. They
    # must be given to every Compose that executes pending transforms (Compose and OneOf).
    # dtype float32: the lazy resample otherwise computes in float64.
    overrides = (
        {
            "image": {"mode": "bilinear", "padding_mode": "zeros", "dtype": torch.float32},
            "label": {"mode": "nearest", "padding_mode": "zeros", "dtype": torch.float32},
        }
        if lazy
        else None
    )

    return mt.Compose(
        [
            # dtype float32 for both (the files are uint8); MetaTensor with the affine.
            mt.LoadImaged(keys, ensure_channel_first=True, image_only=True),
            # align_corners=True for the image: corner voxel centres aligned, as voxflow's
            # resize (scipy.ndimage.zoom). Label: nearest.
            mt.Resized(keys, spatial_size=(RESIZE,) * 3, mode=("trilinear", "nearest"), align_corners=(True, None)),
            # One rotation plane of three, angle continuous in +-15 degrees (voxflow: whole
            # degrees); scale and translation in the same resample.
            mt.OneOf(
                [
                    affine([(-rad, rad), (0, 0), (0, 0)]),
                    affine([(0, 0), (-rad, rad), (0, 0)]),
                    affine([(0, 0), (0, 0), (-rad, rad)]),
                ],
                lazy=lazy,
                overrides=overrides,
            ),
            # One random axis, always: exactly voxflow's random_flip(one_axis, p=1).
            mt.RandAxisFlipd(keys, prob=1.0),
            # Uniform random corner, fixed size: voxflow's random_crop.
            mt.RandSpatialCropd(keys, roi_size=(CROP,) * 3, random_center=True, random_size=False),
            # Percentiles over the WHOLE volume (MONAI has no mask option here; voxflow: over the
            # label mask), clip, then map linearly to [0, 1] (invisible after the z-score).
            mt.ScaleIntensityRangePercentilesd("image", lower=PERCENTILES[0], upper=PERCENTILES[1], b_min=0.0, b_max=1.0, clip=True),
            # z-score over the image's own non-zero voxels (no label-mask option; voxflow: over
            # the label mask). After the clip above, the voxels at the lower cut are 0 and so
            # left out, where voxflow keeps every voxel of the mask.
            mt.NormalizeIntensityd("image", nonzero=True),
            # Simard's model, as voxflow's: uniform noise in [-1, 1] per voxel and component,
            # Gaussian-smoothed (sigma U[9, 13] voxels, MONAI truncates at 3 sigma, voxflow at 4),
            # times magnitude U[0, 900], in voxels; no affine part. Zero fill.
            mt.Rand3DElasticd(
                keys,
                sigma_range=ELASTIC_SIGMA,
                magnitude_range=ELASTIC_ALPHA,
                prob=1.0,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
        ],
        lazy=lazy,
        overrides=overrides,
    )


class MonaiDataset(Dataset):
    def __init__(self, image: Path, label: Path, length: int, lazy: bool = False):
        self.image, self.label, self.length = str(image), str(label), length
        self.transform = build_monai(lazy)

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        out = self.transform({"image": self.image, "label": self.label})
        return {
            # Plain tensors (as voxflow returns), so the collate does not copy MONAI metadata.
            "image": out["image"].as_tensor(),
            "label": out["label"].as_tensor(),
            "image_affine": torch.as_tensor(out["image"].affine),
            "case": "mni152",
            "output": i,
        }


def monai_worker_init(worker_id: int) -> None:
    # Without this every worker of a plain torch DataLoader holds the same copy of the
    # transforms' numpy RandomState and draws the same augmentations (monai.data.DataLoader
    # does this itself).
    from monai.data.utils import worker_init_fn

    worker_init_fn(worker_id)
    set_threads(1)


def plain_worker_init(worker_id: int) -> None:
    set_threads(1)


# --------------------------------------------------------------------------------------------
# voxflow
# --------------------------------------------------------------------------------------------


def voxflow_dataset(image: Path, label: Path, graph: Path, length: int, threads: int):
    import voxflow.torch

    cases = [{"id": "mni152", "inputs": {"image": str(image), "label": str(label)}}]
    # One case, `length` outputs of it: len(ds) == len(cases) * outputs_per_epoch.
    ds = voxflow.torch.GraphDataset(cases, str(graph), outputs_per_epoch=length, threads=threads)
    assert len(ds) == length, (len(ds), length)
    return _VoxflowView(ds)


class _VoxflowView(Dataset):
    """Renames voxflow's outputs (save node names) to the keys the report reads."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        d = self.ds[i]
        return {
            "image": d["save_image"],
            "label": d["save_label"],
            "image_affine": d["save_image_affine"],
            "case": d["case"],
            "output": d["output"],
        }


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def run_loader(make_dataset, workers: int, warmup: int, samples: int, worker_init):
    """samples/s over `samples` batches after `warmup` batches, and the first batch."""
    ds = make_dataset(warmup + samples)
    loader = DataLoader(
        ds,
        batch_size=1,
        shuffle=False,
        num_workers=workers,
        worker_init_fn=worker_init if workers > 0 else None,
    )
    it = iter(loader)
    first = None
    t_start = time.perf_counter()
    for _ in range(warmup):
        batch = next(it)
        first = first if first is not None else batch
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(samples):
        batch = next(it)
        first = first if first is not None else batch
    t1, c1 = time.perf_counter(), time.process_time()
    del it, loader
    return {
        "samples": samples,
        "seconds": t1 - t0,
        "samples_per_s": samples / (t1 - t0),
        "s_per_sample": (t1 - t0) / samples,
        "warmup_seconds": t0 - t_start,
        # CPU time of this process (all its threads; the workers' time is not in it): with
        # num_workers=0 it is the per-sample cost, and it hardly moves when other processes
        # compete for the cores, where the wall-clock figures do.
        "cpu_s_per_sample": (c1 - c0) / samples if workers == 0 else None,
    }, first


def summarize(batch) -> dict:
    img = batch["image"].float()
    lab = batch["label"]
    mask = lab != 0
    inside = img[mask]
    return {
        "image_shape": list(img.shape),
        "image_dtype": str(batch["image"].dtype),
        "label_shape": list(lab.shape),
        "label_dtype": str(lab.dtype),
        # A label map must keep its label values (a resample that interpolates it linearly
        # gives thousands of distinct values).
        "label_values": (
            [float(v) for v in values] if (values := torch.unique(lab)).numel() <= 16 else f"{values.numel()} distinct values"
        ),
        "mean_in_mask": round(float(inside.mean()), 3) if inside.numel() else None,
        "std_in_mask": round(float(inside.std()), 3) if inside.numel() else None,
        "mask_fraction": round(float(mask.float().mean()), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=32, help="timed samples with workers (default 32)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up batches, not timed (default 2)")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader num_workers (default 2)")
    ap.add_argument("--single-samples", type=int, default=8, help="timed samples with num_workers=0 (default 8; 0 skips)")
    ap.add_argument("--threads", type=int, default=1, help="threads of the single-process run (default 1)")
    ap.add_argument("--libs", default="voxflow,torchio,monai,monai-lazy", help="comma list (default all)")
    ap.add_argument("--graph", type=Path, default=DEFAULT_GRAPH)
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--label", type=Path, default=DEFAULT_LABEL)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    libs = [x.strip() for x in args.libs.split(",") if x.strip()]
    set_threads(args.threads)

    have_voxflow = False
    if "voxflow" in libs:
        try:
            import voxflow  # noqa: F401
            import voxflow.torch  # noqa: F401

            have_voxflow = True
        except ImportError as e:
            print(f"voxflow not installed ({e}); skipping it", file=sys.stderr)
            libs.remove("voxflow")

    makers = {
        "voxflow": (
            lambda n, threads: voxflow_dataset(args.image, args.label, args.graph, n, threads),
            plain_worker_init,
        ),
        "torchio": (lambda n, threads: TorchioDataset(args.image, args.label, n), plain_worker_init),
        "monai": (lambda n, threads: MonaiDataset(args.image, args.label, n), monai_worker_init),
        "monai-lazy": (lambda n, threads: MonaiDataset(args.image, args.label, n, lazy=True), monai_worker_init),
    }
    versions = {
        "voxflow": (getattr(sys.modules["voxflow"], "__version__", None) or version("voxflow")) if have_voxflow else "not installed",
        "torchio": version("torchio"),
        "monai": version("monai"),
        "monai-lazy": version("monai"),
    }

    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} before the run: another process is busy", file=sys.stderr)
    results: dict[str, dict] = {}
    # Workers first (voxflow's datasets are not touched in this process before the fork).
    for lib in libs:
        make, init = makers[lib]
        print(f"[{lib}] {args.workers} workers, {args.warmup} + {args.samples} samples ...", file=sys.stderr, flush=True)
        r, first = run_loader(lambda n: make(n, 1), args.workers, args.warmup, args.samples, init)
        results[lib] = {"workers": r, "check": summarize(first)}
        print(f"[{lib}]   {r['samples_per_s']:.3f} samples/s", file=sys.stderr, flush=True)
    if args.single_samples > 0:
        for lib in libs:
            make, init = makers[lib]
            print(f"[{lib}] single process, 1 + {args.single_samples} samples ...", file=sys.stderr, flush=True)
            r, _ = run_loader(lambda n: make(n, args.threads), 0, 1, args.single_samples, init)
            results[lib]["single"] = r
            print(f"[{lib}]   {r['s_per_sample']:.3f} s/sample, CPU {r['cpu_s_per_sample']:.3f} s/sample", file=sys.stderr, flush=True)

    load_after = os.getloadavg()
    # ---- report ----
    vf = results.get("voxflow")

    def ratio(lib, key, field, invert=False):
        if vf is None or key not in vf or key not in results[lib]:
            return "n/a"
        a, b = vf[key][field], results[lib][key][field]
        return f"{(b / a) if invert else (a / b):.2f}"

    print()
    print(f"## DataLoader throughput: tutorial pipeline, batch_size=1")
    print()
    print(
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scipy {version('scipy')}, nibabel {version('nibabel')}, SimpleITK {version('simpleitk')}. "
        f"{args.warmup} warm-up + {args.samples} timed samples with num_workers={args.workers}; "
        f"1 warm-up + {args.single_samples} timed in the main process (threads={args.threads}). "
        f"Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after."
    )
    print()
    print(
        f"| library | version | samples/s ({args.workers} workers) | ratio voxflow/peer "
        f"| s/sample (1 process) | ratio peer/voxflow | CPU s/sample (1 process) | ratio peer/voxflow |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for lib, r in results.items():
        single = r.get("single")
        own = lib == "voxflow"
        cells = [
            lib,
            versions[lib],
            f"{r['workers']['samples_per_s']:.2f}",
            "1.00" if own else ratio(lib, "workers", "samples_per_s"),
            f"{single['s_per_sample']:.3f}" if single else "n/a",
            ("1.00" if own else ratio(lib, "single", "s_per_sample", invert=True)) if single else "n/a",
            f"{single['cpu_s_per_sample']:.3f}" if single else "n/a",
            ("1.00" if own else ratio(lib, "single", "cpu_s_per_sample", invert=True)) if single else "n/a",
        ]
        print("| " + " | ".join(cells) + " |")
    if not have_voxflow and "voxflow" in args.libs:
        print("\nvoxflow not installed: its row and the ratios are missing.")
    print()
    print("### First sample of each (sanity check)")
    print()
    print("| library | image | label | label values | mean / std in mask | mask fraction |")
    print("|---|---|---|---|---|---|")
    for lib, r in results.items():
        c = r["check"]
        print(
            f"| {lib} | {c['image_shape']} {c['image_dtype']} | {c['label_shape']} {c['label_dtype']} | "
            f"{c['label_values']} | {c['mean_in_mask']} / {c['std_in_mask']} | {c['mask_fraction']} |"
        )
    print()
    print("### Transform calls")
    print()
    print(f"voxflow: `voxflow.torch.GraphDataset(cases, {args.graph.name!r}, outputs_per_epoch=K, threads=1)` on graphs/tutorial.json.")
    for name, fn in (("TorchIO", build_torchio), ("MONAI", build_monai)):
        if any(lib.startswith(name.lower()) for lib in results):
            print()
            print(f"{name}:")
            print()
            print("```python")
            print(inspect.getsource(fn).rstrip())
            if name == "TorchIO":
                print()
                print(inspect.getsource(TorchioRandomCrop).rstrip())
            print("```")

    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "loadavg": [load_before, load_after], "args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

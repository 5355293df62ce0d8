#!/usr/bin/env python3
"""Graph-path conformance reference set for voxflow's spatial ops (numpy / scipy / nibabel).

Usage:  python make_graph_reference.py OUT_DIR --data DATA_DIR   (DATA_DIR: voxflow's data/)

Writes OUT_DIR/inputs/*.nii.gz (copied samples + seeded synthetic oblique volumes),
OUT_DIR/expected/<case>.nii.gz and OUT_DIR/manifest.json. Each manifest case holds the full
graph (load -> op nodes chained on `volume` -> save), the expected file, whether the comparison
must be exact, the python calls that produced the expected voxels (`call`: statements starting from `y = x`,
x = the input voxels as voxflow loads them, M = the case's `voxel_matrix`), the expected shape
and float64 affine, and a `derivation` naming the voxflow source the semantics come from. Reruns
write identical bytes (everything is seeded; nibabel's gzip writes mtime 0). Before writing,
`self_check()` asserts that the mirrored matrices reproduce the axis-aligned equalities voxflow
documents (rotate = scipy.ndimage.rotate incl. reshape, shift = scipy.ndimage.shift, scale and
affine formulas), which pins the sign conventions.

How inputs are read (as voxflow's `load`, crates/io-nifti/src/lib.rs header comment): images as
float32 with scl_slope/scl_inter applied in float64 then cast
(`img.get_fdata(dtype=float64).astype(float32)`), label maps in their stored integer type; the
affine is nibabel's choice (sform when sform_code != 0). Synthetic affines are rounded to
float32 before saving, so the affine read back is exactly the one used here. 4D volumes: every
op acts on each frame (x, y, z, t) with the same 3D geometry (resample.rs `resample_volume`
iterates Axis(3); lib.rs `grid::frames` for the exact grid ops).

Reference semantics per op (paths under crates/geometry/src unless noted):

* Graph fusion (spatial.rs header, `defer` l.129, `run_step` l.250; lib.rs `grid::compose`
  l.120): every spatial op yields a Step (output shape, output affine, `out_to_in` = output
  voxel -> input voxel, the matrix scipy's affine_transform takes). `run_step` snaps the step's
  matrix and passes the value through untouched when the step is the identity on the same grid.
  A chain A then B composes to `out_to_in = snap(M_A . M_B)` (left to right in graph order),
  keeps the finest interpolation seen (nearest < linear < cubic) and the latest mode/fill. Exact
  grid ops (crop/pad/crop_or_pad inside the grid, flip, reorient) compose their index matrix
  into a pending resample (`M . index`, grid ops also `affine . index`); a window that leaves
  the grid (padding) first resamples, then pads. Elastic with a zero field passes its input
  through (crates/elastic/src/elastic.rs `is_identity` l.54, `run` l.217). `save` resamples
  once: resample.rs `resample_volume` l.122 copies the voxels when the shape is unchanged and
  snap(M) is the identity, else `transform_image` (scipy affine_transform semantics: order
  0/1/3, scipy's prefilter, scipy's boundary modes) on each frame.
* Snapping (resample.rs `snap_voxel_matrix` l.77): an entry within 1e-11 (relative, at least
  absolute 1e-11) of a multiple of 2**-20 becomes that multiple. Every voxel matrix here is
  snapped the same way before scipy sees it. Without it, a matrix built from an oblique affine
  and its inverse carries ~1e-15 rounding (identity = 1 - 1e-16 on the diagonal, 1e-13
  elsewhere), and scipy's strict edge test (outside [0, n-1] -> cval) drops a whole boundary
  slice on that noise: the bug this set guards against (3180 of 3233 voxels of z=0 zeroed).
* Edge tolerance (resample/boundary.rs `EDGE_TOLERANCE` l.20, `map_coordinate`): voxflow counts
  an input coordinate within 1e-6 voxel outside [0, n-1] as on the edge; scipy does not. Every
  resample is therefore computed as voxflow defines it: the output voxels' input coordinates
  c = M[:3,3] + M[:3,:3] . o (scipy's order of terms), those in the 1e-6 band moved onto the
  edge, then scipy.ndimage.map_coordinates (same interpolation, prefilter and modes as
  affine_transform). The plain scipy.ndimage.affine_transform(x, M[:3,:3], M[:3,3], ...) is run
  too; where it gives the same bytes (all cases but the few with coordinates in the band) the
  `call` shows it, otherwise the map_coordinates call with `edge_band_hits` (coordinates in the
  band) and `strict_edge_voxels` (voxels where scipy's strict edge differs). A shift of whole
  voxels given in mm on an oblique volume is such a case: the float32 sform makes the spacing
  0.80000001 mm, so 1.6 mm is 1.99999997 voxels, not snapped (2e-8 >> 1e-11), and scipy's
  strict edge would drop the boundary slice. Order-0 coordinates within 1e-9 of a rounding tie
  on a matrix row that is not exactly dyadic are counted in `near_ties` (0 in every case: such a
  tie would be decided by rounding noise). Ties round half up in both (floor(c + 0.5)).
* Augmentations (spatial.rs `centre` l.181, `try_about_centre` l.197, `directions` l.275,
  `along_voxel_axes` l.289, `augmentation` l.300): the forward motion W of the anatomy in world
  mm about the physical centre c = A . ((n-1)/2, 1):  out_to_in = A^-1 . T(c) . W^-1 . T(-c) . A.
  For ops given along the voxel axes, W = D . L . D^-1 with D = the affine's columns
  normalised, plus the translation D . t (t in mm along the voxel axes). Grid and affine kept.
  - shift (shift.rs l.45 `to_voxels`, l.73 `step`): offset per axis in `unit` mm (default;
    offset / column norm), voxel, or fraction (of that axis' size); L = I, t = voxels x spacing.
  - rotate (rotate.rs `cos_sin_deg` l.36, `plane` l.53, `forward` l.64, `reshaped` l.76, `step`
    l.146): degrees (exact at multiples of 90), plane axes sorted, L[p0,p0]=c, L[p0,p1]=-s,
    L[p1,p0]=s, L[p1,p1]=c (scipy.ndimage.rotate's sign). reshape: true grows the in-plane
    shape to floor(ptp(R . corners_mm)/spacing + 0.5) and moves the grid by d = (n_in -
    n_out)/2 voxels: affine A . T(d), out_to_in = M . T(d).
  - scale (scale.rs l.65): L = diag(factor) (one number or per axis).
  - affine (affine.rs `parts`, `step` l.92): `matrix` 3x3 / 3x4 / 4x4 (translation column in
    mm) plus `translation`; frame "world" (default): W = [L | t] directly in world axes; frame
    "voxel": as `augmentation` (D . L . D^-1, translation D . t).
* resize (resize.rs `zoomed_shape` l.50, `zoom_matrix` l.56, `step` l.119): out shape =
  round_half_even(n x factor) (or `shape`), out_to_in = diag((n_in-1)/(n_out-1)) (grid_mode:
  n_in/n_out with offset 0.5 z - 0.5, mode constant -> grid-constant), affine A . M. Equals
  scipy.ndimage.zoom (checked per case: `crosscheck`).
* resample_to_spacing (resample_to_spacing.rs `ceil_tolerant` l.88, `step` l.94):
  keep_orientation (default): ratio = new/old spacing, shape = ceil((n-1) old/new - 1e-6) + 1,
  out_to_in = diag(ratio), affine A . diag(ratio) (documented equal to nibabel for an
  axis-aligned RAS+ volume: crosschecked on someones_anatomy). to_output_space: nibabel's
  resample_to_output grid (axis-aligned, origin = world min of the voxel-centre bounding box,
  shape ceil(extent/spacing - 1e-6) + 1), out_to_in = A^-1 . A_out; crosschecked against
  nibabel.processing.resample_to_output (per frame for 4D).
* crop (crop.rs `centred_start` l.57, `window` l.65; pad.rs `Window`): x[s0:s0+n0, ...],
  start centred when left out (odd difference: extra voxel cut before); `pad: true` pads what
  lies outside with numpy.pad's mode (constant value / edge / reflect / symmetric); affine
  A . T(start) (nibabel img.slicer gives the same affine).
* pad (pad.rs): numpy.pad(x, ((b0,a0),(b1,a1),(b2,a2)), mode), affine A . T(-before).
* crop_or_pad (crop_or_pad.rs): crop with centred start and pad, to `shape`.
* flip (flip.rs `index_matrix` l.129): numpy.flip on the listed voxel axes, affine KEPT.
* reorient (reorient.rs `Orientation::of` l.40, `index_matrix` l.94): nibabel
  img.as_reoriented(io_orientation(A)) (= as_closest_canonical): voxels permuted/flipped,
  affine A . inv_ornt_aff; no-op when already RAS+.
* elastic (crates/elastic/src/elastic.rs): only zero-field models are reproducible here
  (identity model, simard alpha 0, control_grid max_displacement 0): the input unchanged.

Manifest fields per case: name, input, kind, graph, expected, exact (true when no
interpolation happens, or order 0 / label maps), call, voxel_matrix (the snapped 4x4 handed to
scipy, or null when nothing resamples), expected_shape, expected_affine (float64; the file stores
it as a float32 sform and qform, code 1), expected_dtype, expected_sum, derivation (one line per
op: what it did and where that comes from), edge_band_hits, strict_edge_voxels, near_ties, and
for single-op cases that a library call claims to match, crosscheck (scipy.ndimage.zoom,
nibabel.processing.resample_to_output, nibabel.as_closest_canonical, img.slicer): its max
difference from the expected.

Output dtype: float32 for images (save's default, crates/graph-runner/src/io.rs `Save.dtype`),
the label map's own type for labels. Images resample in float32 data (as voxflow holds them);
scipy interpolates in float64 (cubic coefficients in float64; voxflow keeps them in float32,
so cubic cases are not exact).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import nibabel as nib
import nibabel.processing
import numpy as np
import scipy
import scipy.ndimage as ndi
from nibabel.orientations import inv_ornt_aff, io_orientation
from spatial_cases import spatial_cases

from intensity_cases import intensity_cases

SEED = 20240611
SNAP_GRID = float(1 << 20)
EDGE_TOLERANCE = 1e-6
RANK = {'nearest': 0, 'linear': 1, 'cubic': 2}
ORDER = {'nearest': 0, 'linear': 1, 'cubic': 3}


# --------------------------------------------------------------------------------------------
# voxflow's geometry, mirrored (see the docstring for the source of each function)
# --------------------------------------------------------------------------------------------

def snap(m):
    """resample.rs snap_voxel_matrix."""
    m = np.asarray(m, dtype=np.float64)
    s = np.round(m * SNAP_GRID) / SNAP_GRID
    return np.where(np.abs(m - s) <= 1e-11 * np.maximum(np.abs(m), 1.0), s, m)


def spacing(a):
    """voxflow_core::volume::spacing: column norms of the 3x3 part."""
    return np.array([math.sqrt(a[0, c] * a[0, c] + a[1, c] * a[1, c] + a[2, c] * a[2, c])
                     for c in range(3)])


def directions(a):
    d = a[:3, :3].copy()
    for c in range(3):
        n = math.sqrt(d[0, c] ** 2 + d[1, c] ** 2 + d[2, c] ** 2)
        if n > 0:
            d[:, c] = d[:, c] / n
    return d


def translation(t):
    m = np.eye(4)
    m[:3, 3] = t
    return m


def about_centre(shape, a, world):
    """spatial.rs try_about_centre: A^-1 . T(c) . W^-1 . T(-c) . A (left to right)."""
    c = a @ np.array([(n - 1) / 2.0 for n in shape] + [1.0])
    m = np.linalg.inv(a) @ translation(c[:3])
    m = m @ np.linalg.inv(world)
    m = m @ translation(-c[:3])
    return m @ a


def augmentation(shape, a, linear, t_mm):
    """spatial.rs augmentation: W = D . L . D^-1 with translation D . t."""
    d = directions(a)
    w = np.eye(4)
    w[:3, :3] = (d @ linear) @ np.linalg.inv(d)
    w[:3, 3] += d @ np.asarray(t_mm, dtype=np.float64)
    return about_centre(shape, a, w)


def cos_sin_deg(angle):
    a = math.fmod(angle, 360.0)
    if a < 0:
        a += 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if a in exact:
        return exact[a]
    r = math.radians(angle)
    return math.cos(r), math.sin(r)


def rotation_forward(angle, axes):
    p0, p1 = sorted(axes)
    c, s = cos_sin_deg(angle)
    m = np.eye(3)
    m[p0, p0], m[p0, p1], m[p1, p0], m[p1, p1] = c, -s, s, c
    return m


def reshaped(angle, extent, sp):
    c, s = cos_sin_deg(angle)
    corners = [(0.0, 0.0), (0.0, extent[1]), (extent[0], 0.0), (extent[0], extent[1])]
    out = []
    for k in range(2):
        v = [c * p[0] + s * p[1] if k == 0 else -s * p[0] + c * p[1] for p in corners]
        out.append(max(int(math.floor((max(v) - min(v)) / sp[k] + 0.5)), 1))
    return out


def ceil_tolerant(v):
    return max(math.ceil(v - 1e-6), 0.0)


def merge_resampling(p):
    return dict(interpolation=p.get('interpolation', 'linear'),
                label_interpolation=p.get('label_interpolation', 'nearest'),
                mode=p.get('mode', 'constant'), fill=p.get('fill', 'minimum'),
                label_fill=p.get('label_fill', 0))


def spatial_step(op, p, shape, a):
    """The Step (shape, affine, out_to_in, why) of a resampling op on a grid (shape, affine)."""
    if op == 'shift':
        unit = p.get('unit', 'mm')
        sp = spacing(a)
        vox = []
        for ax in range(3):
            v = p['offset'][ax]
            if unit == 'mm':
                vox.append(v / sp[ax] if sp[ax] > 0 else 0.0)
            elif unit == 'voxel':
                vox.append(float(v))
            else:
                vox.append(v * shape[ax])
        mm = np.array([vox[i] * sp[i] for i in range(3)])
        why = (f'shift: t = {np.round(vox, 9).tolist()} voxels x spacing; W = I + D.t; '
               'M = A^-1 T(c) W^-1 T(-c) A (shift.rs step, spatial.rs augmentation)')
        return shape, a, augmentation(shape, a, np.eye(3), mm), why
    if op == 'rotate':
        axes = p.get('axes', [0, 1])
        lin = rotation_forward(p['angle'], axes)
        m = augmentation(shape, a, lin, np.zeros(3))
        why = (f"rotate: L = forward rotation {p['angle']} deg in plane {sorted(axes)} "
               '([[c,-s],[s,c]]); W = D L D^-1; M = A^-1 T(c) W^-1 T(-c) A (rotate.rs step)')
        if not p.get('reshape', False):
            return shape, a, m, why
        p0, p1 = sorted(axes)
        sp = spacing(a)
        extent = [shape[p0] * sp[p0], shape[p1] * sp[p1]]
        o = reshaped(p['angle'], extent, [sp[p0], sp[p1]])
        out = list(shape)
        out[p0], out[p1] = o
        d = [(shape[i] - out[i]) / 2.0 for i in range(3)]
        sh = translation(d)
        return tuple(out), a @ sh, m @ sh, why + f'; reshape: out shape {out}, T(d={d}) (affine A.T(d), M.T(d))'
    if op == 'scale':
        f = p['factor']
        f = [f] * 3 if np.isscalar(f) else f
        why = f'scale: L = diag({f}); W = D L D^-1; M = A^-1 T(c) W^-1 T(-c) A (scale.rs step)'
        return shape, a, augmentation(shape, a, np.diag(f), np.zeros(3)), why
    if op == 'affine':
        mat = np.array(p['matrix'], dtype=np.float64)
        lin = mat[:3, :3]
        t = np.array(p.get('translation', [0.0, 0.0, 0.0]), dtype=np.float64)
        if mat.shape[1] == 4:
            t = t + mat[:3, 3]
        if p.get('frame', 'world') == 'voxel':
            why = 'affine(frame voxel): W = D L D^-1 + D.t; M = A^-1 T(c) W^-1 T(-c) A (affine.rs step)'
            return shape, a, augmentation(shape, a, lin, t), why
        w = np.eye(4)
        w[:3, :3] = lin
        w[:3, 3] = t
        why = 'affine(frame world): W = [L | t]; M = A^-1 T(c) W^-1 T(-c) A (affine.rs step)'
        return shape, a, about_centre(shape, a, w), why
    if op == 'resize':
        grid_mode = p.get('grid_mode', False)
        if 'factor' in p:
            f = p['factor']
            f = [f] * 3 if np.isscalar(f) else f
            out = tuple(max(int(round(shape[i] * f[i])), 1) for i in range(3))  # half to even
        else:
            out = tuple(p['shape'])
        m = np.eye(4)
        for i in range(3):
            nom, div = (shape[i], out[i]) if grid_mode else (shape[i] - 1.0, out[i] - 1.0)
            z = 1.0 if div == 0 else nom / div
            m[i, i] = z
            if grid_mode:
                m[i, 3] = 0.5 * z - 0.5
        why = f'resize: out shape {list(out)}, M = zoom matrix (grid_mode={grid_mode}), affine A.M (resize.rs step)'
        return out, a @ m, m, why
    if op == 'resample_to_spacing':
        new = p['spacing']
        old = spacing(a)
        if p.get('oblique', 'keep_orientation') == 'keep_orientation':
            ratio = [float(new[i] / old[i]) for i in range(3)]
            out = tuple(int(ceil_tolerant(max(shape[i] - 1.0, 0.0) * old[i] / new[i])) + 1 for i in range(3))
            m = np.diag(ratio + [1.0])
            why = (f'resample_to_spacing keep_orientation: ratio new/old = {ratio}, out shape {list(out)}, '
                   'M = diag(ratio), affine A.M (resample_to_spacing.rs step)')
            return out, a @ m, m, why
        corners = []
        for k in range(8):
            v = [max(shape[i] - 1.0, 0.0) if (k >> i) & 1 else 0.0 for i in range(3)]
            corners.append((a @ np.array(v + [1.0]))[:3])
        corners = np.array(corners)
        lo, hi = corners.min(0), corners.max(0)
        out = tuple(int(ceil_tolerant((hi[i] - lo[i]) / new[i])) + 1 for i in range(3))
        oa = np.diag(list(new) + [1.0])
        oa[:3, 3] = lo
        why = (f'resample_to_spacing to_output_space: out grid diag({list(new)}) at world min {lo.tolist()}, '
               f'shape {list(out)}, M = A^-1 A_out (resample_to_spacing.rs step; nibabel vox2out_vox)')
        return out, oa, np.linalg.inv(a) @ oa, why
    raise ValueError(op)


SPATIAL = {'shift', 'rotate', 'scale', 'affine', 'resize', 'resample_to_spacing'}


def centred_start(n, size):
    d = n - size
    return (d + 1) // 2 if d >= 0 else -((-d + 1) // 2)


# --------------------------------------------------------------------------------------------
# A small simulator of the graph runner's value flow (Volume / Deferred), built from the above
# --------------------------------------------------------------------------------------------

class Vol:
    def __init__(self, data, affine):
        self.data, self.affine = data, affine  # data: (x, y, z, t)

    @property
    def shape(self):
        return tuple(self.data.shape[:3])


class Deferred:
    def __init__(self, src, shape, affine, m, interp, mode, fill):
        self.src, self.shape, self.affine, self.m = src, tuple(shape), affine, m
        self.interp, self.mode, self.fill = interp, mode, fill


class Sim:
    def __init__(self, kind, x, affine):
        self.kind = kind
        self.value = Vol(x, affine)
        self.calls = []      # python statements producing y from x
        self.why = []        # derivation notes
        self.matrices = []   # voxel matrices handed to scipy (snapped)
        self.edge_band = 0
        self.strict_edge_diff = 0
        self.near_ties = 0
        self.crosschecks = []

    def grid(self):
        v = self.value
        return v.shape, v.affine

    # -- resampling --------------------------------------------------------------------------
    def settings(self, p):
        r = merge_resampling(p)
        if self.kind == 'label':
            return r['label_interpolation'], r['mode'], r['label_fill']
        return r['interpolation'], r['mode'], r['fill']

    def defer(self, shape, affine, m, p, snap_step):
        interp, mode, fill = self.settings(p)
        v = self.value
        if isinstance(v, Vol):
            self.value = Deferred(v, shape, affine, snap(m) if snap_step else m, interp, mode, fill)
        else:
            if RANK[v.interp] >= RANK[interp]:
                interp = v.interp
            self.value = Deferred(v.src, shape, affine, snap(v.m @ (snap(m) if snap_step else m)),
                                  interp, mode, fill)

    def materialize(self):
        v = self.value
        if isinstance(v, Vol):
            return v
        src = v.src
        m = snap(v.m)
        if v.shape == src.shape and np.array_equal(m, np.eye(4)):
            self.why.append('resample_volume: same shape and snap(M) == I -> voxels copied')
            self.calls.append('y = y.copy()  # the composed matrix snaps to the identity: voxels copied')
            self.value = Vol(src.data.copy(), v.affine)
            return self.value
        order = ORDER[v.interp]
        if v.fill == 'minimum':
            cval = float(np.nanmin(src.data)) if self.kind == 'image' else int(src.data.min())
        else:
            cval = float(v.fill) if self.kind == 'image' else int(v.fill)
        idx = np.indices(v.shape, dtype=np.float64).reshape(3, -1)
        coords = m[:3, 3:4] + m[:3, 0:1] * idx[0] + m[:3, 1:2] * idx[1] + m[:3, 2:3] * idx[2]
        # Rows whose entries are all multiples of 2^-20 give exact coordinates in any
        # implementation; other rows carry rounding, so an order-0 tie there is ambiguous.
        dyadic = [bool(np.all(m[ax] * SNAP_GRID == np.round(m[ax] * SNAP_GRID))) for ax in range(3)]
        clamped = coords.copy()
        band = np.zeros(coords.shape[1], dtype=bool)  # voxflow: on the edge; scipy: outside
        for ax in range(3):
            last = src.shape[ax] - 1.0
            c = clamped[ax]
            lo = (c < 0) & (c >= -EDGE_TOLERANCE)
            hi = (c > last) & (c <= last + EDGE_TOLERANCE)
            band |= lo | hi
            c[lo] = 0.0
            c[hi] = last
        hits = int(band.sum())
        ties = 0
        if order == 0:
            for ax in range(3):
                if not dyadic[ax]:
                    frac = coords[ax] - np.floor(coords[ax])
                    ties += int((np.abs(frac - 0.5) <= 1e-9).sum())
        self.edge_band += hits
        self.near_ties += ties
        self.matrices.append(m)
        nt = src.data.shape[3]
        # voxflow's semantics: scipy's interpolation at the coordinates, an edge within 1e-6.
        out = np.empty(v.shape + (nt,), dtype=src.data.dtype)
        for t in range(nt):
            out[..., t] = ndi.map_coordinates(src.data[..., t], clamped, order=order, mode=v.mode,
                                              cval=cval).reshape(v.shape)
        # The plain scipy call, used as the reference whenever it gives the same bytes.
        plain = np.empty_like(out)
        for t in range(nt):
            plain[..., t] = ndi.affine_transform(src.data[..., t], m[:3, :3], m[:3, 3], output_shape=v.shape,
                                                 order=order, mode=v.mode, cval=cval)
        per = ' for each frame t (y[..., t])' if nt > 1 else ''
        ndiff = int((plain != out).sum())
        self.strict_edge_diff += ndiff
        if ndiff == 0:
            self.calls.append(f"y = scipy.ndimage.affine_transform(y, M[:3,:3], M[:3,3], output_shape={v.shape}, "
                              f"order={order}, mode='{v.mode}', cval={cval}){per}")
        else:
            self.calls.append(
                f"c = M[:3,3:4] + M[:3,:3] @ numpy.indices({v.shape}).reshape(3,-1); per axis c[-1e-6 <= c < 0] = 0 "
                f"and c[n-1 < c <= n-1+1e-6] = n-1 (voxflow EDGE_TOLERANCE; {hits} coordinates); "
                f"y = scipy.ndimage.map_coordinates(y, c, order={order}, mode='{v.mode}', cval={cval})"
                f".reshape({v.shape}){per}  # plain affine_transform differs in {ndiff} voxels (strict edge)")
        self.value = Vol(out, v.affine)
        return self.value

    # -- ops ---------------------------------------------------------------------------------
    def apply(self, op, p):
        shape, a = self.grid()
        if op in SPATIAL:
            out_shape, out_aff, m, why = spatial_step(op, p, shape, a)
            self.why.append(why)
            if op == 'resize' and p.get('grid_mode') and merge_resampling(p)['mode'] == 'constant':
                p = dict(p, mode='grid-constant')
            if op != 'resample_to_spacing':
                ms = snap(m)
                if tuple(out_shape) == tuple(shape) and np.array_equal(out_aff, a) and np.array_equal(ms, np.eye(4)):
                    self.why.append(f'{op}: snapped step is the identity on the same grid -> value passed through (run_step)')
                    return
            self.defer(out_shape, out_aff, m, p, snap_step=op != 'resample_to_spacing')
            return
        if op == 'elastic':
            self.why.append('elastic: zero field (is_identity) -> value passed through')
            return
        if op in ('crop', 'pad', 'crop_or_pad'):
            if op == 'crop':
                size = p['size']
                start = p.get('start') or [centred_start(shape[i], size[i]) for i in range(3)]
                mode, value, allow = p.get('mode', 'constant'), p.get('value', 0.0), p.get('pad', False)
            elif op == 'pad':
                b, af = p.get('before', [0, 0, 0]), p.get('after', [0, 0, 0])
                start = [-x for x in b]
                size = [shape[i] + b[i] + af[i] for i in range(3)]
                mode, value, allow = p.get('mode', 'constant'), p.get('value', 0.0), True
            else:
                size = p['shape']
                start = [centred_start(shape[i], size[i]) for i in range(3)]
                mode, value, allow = p.get('mode', 'constant'), p.get('value', 0.0), True
            inside = all(start[i] >= 0 and start[i] + size[i] <= shape[i] for i in range(3))
            assert inside or allow, (op, start, size, shape)
            tm = translation(start)
            if isinstance(self.value, Deferred) and inside:
                d = self.value
                self.value = Deferred(d.src, size, d.affine @ tm, d.m @ tm, d.interp, d.mode, d.fill)
                self.why.append(f'{op}: window start {start} size {size} inside -> composed M.T(start), affine.T(start)')
                return
            v = self.materialize()
            before = [max(0, -start[i]) for i in range(3)]
            after = [max(0, start[i] + size[i] - shape[i]) for i in range(3)]
            x = v.data
            npmode = {'constant': 'constant', 'edge': 'edge', 'reflect': 'reflect', 'symmetric': 'symmetric'}[mode]
            padcall = ''
            if any(before) or any(after):
                pads = [(before[i], after[i]) for i in range(3)] + [(0, 0)]
                kw = {'constant_values': np.array(value).astype(x.dtype)} if npmode == 'constant' else {}
                x = np.pad(x, pads, mode=npmode, **kw)
                padcall = (f"y = numpy.pad(y, {tuple(tuple(q) for q in pads[:3])}, mode='{npmode}'"
                           + (f', constant_values={value}' if npmode == 'constant' else '') + '); ')
            sl = tuple(slice(start[i] + before[i], start[i] + before[i] + size[i]) for i in range(3))
            y = np.ascontiguousarray(x[sl])
            self.calls.append(padcall + 'y = y[' + ', '.join(f'{s.start}:{s.stop}' for s in sl) + ']')
            self.why.append(f'{op}: window start {start} size {size} mode {mode} value {value}; affine A.T(start) (pad.rs Window)')
            self.value = Vol(y, v.affine @ tm)
            return
        if op == 'flip':
            axes = p.get('axis', p.get('axes'))
            axes = [axes] if isinstance(axes, int) else axes
            mask = [False] * 3
            for ax in axes:
                mask[ax] = not mask[ax]
            if not any(mask):
                return
            idx = np.eye(4)
            for i in range(3):
                if mask[i]:
                    idx[i, i], idx[i, 3] = -1.0, shape[i] - 1.0
            self.why.append(f'flip: axes {[i for i in range(3) if mask[i]]}, affine kept (flip.rs)')
            if isinstance(self.value, Deferred):
                d = self.value
                self.value = Deferred(d.src, d.shape, d.affine, d.m @ idx, d.interp, d.mode, d.fill)
                self.why.append(f'flip: composed into the pending resample: M <- M . {idx.tolist()} (grid::compose)')
                return
            fl = tuple(i for i in range(3) if mask[i])
            self.calls.append(f'y = numpy.flip(y, {fl})')
            self.value = Vol(np.ascontiguousarray(np.flip(self.value.data, fl)), a)
            return
        if op == 'reorient':
            ornt = io_orientation(a)
            if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
                self.why.append('reorient: already RAS+ -> value passed through')
                return
            idx = inv_ornt_aff(ornt, shape)
            new_shape = [0, 0, 0]
            for i in range(3):
                new_shape[int(ornt[i, 0])] = shape[i]
            self.why.append(f'reorient: ornt {ornt.tolist()}, affine A.inv_ornt_aff (reorient.rs, nibabel as_reoriented)')
            if isinstance(self.value, Deferred):
                d = self.value
                self.value = Deferred(d.src, new_shape, d.affine @ idx, d.m @ idx, d.interp, d.mode, d.fill)
                self.why.append(f'reorient: composed into the pending resample: M <- M . {idx.tolist()}, affine <- affine . same (grid::compose)')
                return
            img = nib.Nifti1Image(self.value.data, a)
            r = img.as_reoriented(ornt)
            self.calls.append('y = numpy.asanyarray(nibabel.Nifti1Image(y, A_y).as_reoriented(io_orientation(A_y)).dataobj)  # A_y = affine of y')
            assert np.allclose(r.affine, a @ idx, rtol=0, atol=1e-9)
            self.value = Vol(np.ascontiguousarray(np.asanyarray(r.dataobj)), a @ idx)
            return
        raise ValueError(op)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def random_rotation(rng, lo_deg, hi_deg):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    ang = math.radians(rng.uniform(lo_deg, hi_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(ang) * k + (1 - math.cos(ang)) * (k @ k)


def oblique_affine(rng, zooms, perm=(0, 1, 2), flip=(1, 1, 1), lo_deg=15, hi_deg=40):
    r = random_rotation(rng, lo_deg, hi_deg)
    p = np.zeros((3, 3))
    for i, j in enumerate(perm):
        p[j, i] = flip[i]
    a = np.eye(4)
    a[:3, :3] = r @ p @ np.diag(zooms)
    a[:3, 3] = rng.uniform(-90, 90, size=3)
    return a.astype(np.float32).astype(np.float64)


def smooth_volume(rng, shape):
    g = np.indices(shape, dtype=np.float64)
    n = np.array(shape, dtype=np.float64).reshape(3, 1, 1, 1)
    grad = rng.uniform(-1, 1, size=3).reshape(3, 1, 1, 1)
    v = 60.0 + 30.0 * (grad * (g / n - 0.5)).sum(0)
    for _ in range(7):
        c = rng.uniform(0.15, 0.85, size=3) * (n.ravel() - 1)
        s = rng.uniform(2.5, 9.0, size=3)
        amp = rng.uniform(-35, 120)
        v += amp * np.exp(-(((g - c.reshape(3, 1, 1, 1)) / s.reshape(3, 1, 1, 1)) ** 2).sum(0) / 2)
    v = np.maximum(v, 5.0) + rng.uniform(0, 0.5, size=shape)  # texture; no zero voxels
    return v.astype(np.float32)


def label_volume(rng, shape):
    """uint8 labels 1..5 everywhere (background 1, blobs 2..5): 0 appears only as fill."""
    g = np.indices(shape, dtype=np.float64)
    n = np.array(shape, dtype=np.float64)
    lab = np.ones(shape, dtype=np.uint8)
    best = np.full(shape, 1.0)
    for k in range(8):
        c = rng.uniform(0.1, 0.9, size=3) * (n - 1)
        s = rng.uniform(3.0, 8.0, size=3)
        d = ((((g - c.reshape(3, 1, 1, 1)) / s.reshape(3, 1, 1, 1)) ** 2).sum(0))
        sel = d < best
        lab[sel] = 2 + k % 4
        best = np.minimum(best, d)
    return lab


SYNTHETIC = {
    # name: (shape, zooms, perm, flip) -- perm/flip: voxel axis i points along world axis perm[i]
    'syn_a': ((44, 38, 31), (0.8, 1.2, 3.0), (0, 1, 2), (1, 1, 1)),
    'syn_b': ((36, 46, 33), (1.2, 0.8, 2.0), (0, 1, 2), (1, 1, 1)),
    'syn_c': ((41, 35, 47), (3.0, 1.0, 1.5), (2, 0, 1), (1, -1, 1)),
    'syn_d': ((32, 42, 36), (1.0, 1.1, 0.9), (0, 1, 2), (-1, 1, 1)),
}
SAMPLES = ['someones_epi.nii.gz', 'example4d.nii.gz', 'someones_anatomy.nii.gz']


def save_nifti(data, affine, path):
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, 1)
    img.set_qform(affine, 1)
    nib.save(img, path)


def make_inputs(out, data_dir):
    os.makedirs(os.path.join(out, 'inputs'), exist_ok=True)
    for s in SAMPLES:
        shutil.copyfile(os.path.join(data_dir, s), os.path.join(out, 'inputs', s))
    rng = np.random.default_rng(SEED)
    for name, (shape, zooms, perm, flip) in SYNTHETIC.items():
        a = oblique_affine(rng, zooms, perm, flip)
        save_nifti(smooth_volume(rng, shape), a, os.path.join(out, 'inputs', name + '.nii.gz'))
    a = oblique_affine(rng, (1.1, 0.9, 2.5), perm=(1, 2, 0), flip=(-1, 1, 1))
    save_nifti(label_volume(rng, (40, 36, 30)), a, os.path.join(out, 'inputs', 'syn_labels.nii.gz'))


INPUT_FILES = {'epi': 'someones_epi.nii.gz', '4d': 'example4d.nii.gz', 'anat': 'someones_anatomy.nii.gz',
               'syn_a': 'syn_a.nii.gz', 'syn_b': 'syn_b.nii.gz', 'syn_c': 'syn_c.nii.gz',
               'syn_d': 'syn_d.nii.gz', 'lab': 'syn_labels.nii.gz'}


def read_input(out, key, kind):
    img = nib.load(os.path.join(out, 'inputs', INPUT_FILES[key]))
    if kind == 'image':
        x = img.get_fdata(dtype=np.float64).astype(np.float32)
    else:
        x = np.asanyarray(img.dataobj)
    if x.ndim == 3:
        x = x[..., None]
    return np.ascontiguousarray(x), img.affine.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

def cases(out):
    """(name, input key, kind, [(op, params), ...], crosscheck or None)."""
    sp_b = spacing(read_input(out, 'syn_b', 'image')[1]).tolist()
    shape_epi = [53, 61, 33]
    L, C, N = {'interpolation': 'linear'}, {'interpolation': 'cubic'}, {'interpolation': 'nearest'}
    LN = {'label_interpolation': 'nearest'}
    shear = [[1.05, 0.12, -0.05], [-0.08, 0.97, 0.1], [0.04, -0.11, 1.02]]
    rot4 = rotation_forward(11.0, [0, 2]) @ rotation_forward(-7.0, [1, 2])
    m4 = [list(rot4[0]) + [3.5], list(rot4[1]) + [-2.0], list(rot4[2]) + [1.25], [0, 0, 0, 1]]
    c = [
        # --- identities: the reported bug (a boundary slice lost on oblique volumes) ---------
        ('id_shift0_epi_linear', 'epi', 'image', [('shift', {'offset': [0, 0, 0], **L})]),
        ('id_rotate0_syn_a_cubic', 'syn_a', 'image', [('rotate', {'axes': [1, 2], 'angle': 0, **C})]),
        ('id_scale1_syn_b_linear', 'syn_b', 'image', [('scale', {'factor': 1.0, **L})]),
        ('id_affine_eye_world_syn_c_linear', 'syn_c', 'image',
         [('affine', {'matrix': np.eye(3).tolist(), **L})]),
        ('id_affine_eye_voxel_syn_d_cubic', 'syn_d', 'image',
         [('affine', {'matrix': np.eye(4).tolist(), 'frame': 'voxel', **C})]),
        ('id_resize_same_shape_epi_cubic', 'epi', 'image', [('resize', {'shape': shape_epi, **C})]),
        ('id_resample_to_spacing_own_spacing_syn_b_linear', 'syn_b', 'image',
         [('resample_to_spacing', {'spacing': sp_b, **L})]),
        ('id_elastic_simard_alpha0_syn_c_linear', 'syn_c', 'image',
         [('elastic', {'model': {'type': 'simard', 'alpha': 0.0, 'sigma': 4.0}, 'seed': 3, **L})]),
        ('id_elastic_control_grid_zero_epi_linear', 'epi', 'image',
         [('elastic', {'model': {'type': 'control_grid', 'max_displacement': 0.0}, **L})]),
        ('id_shift0_4d_linear', '4d', 'image', [('shift', {'offset': [0, 0, 0], **L})]),
        ('id_rotate_there_and_back_syn_a_linear', 'syn_a', 'image',
         [('rotate', {'axes': [0, 1], 'angle': 17.0, **L}), ('rotate', {'axes': [0, 1], 'angle': -17.0, **L})]),
        ('id_rotate0_labels', 'lab', 'label', [('rotate', {'axes': [0, 2], 'angle': 0.0, **LN})]),
        # --- shift -----------------------------------------------------------------------------
        ('shift_voxel_integer_epi_linear', 'epi', 'image',
         [('shift', {'offset': [2, -1, 3], 'unit': 'voxel', **L})]),
        ('shift_mm_whole_voxels_syn_a_linear', 'syn_a', 'image', [('shift', {'offset': [1.6, -2.4, 6.0], **L})]),
        ('shift_mm_integer_epi_nearest', 'epi', 'image', [('shift', {'offset': [4, -5, 7], **N})]),
        ('shift_mm_fractional_syn_b_linear', 'syn_b', 'image', [('shift', {'offset': [1.3, -2.5, 4.1], **L})]),
        ('shift_mm_fractional_syn_c_cubic', 'syn_c', 'image', [('shift', {'offset': [-4.4, 1.7, 2.2], **C})]),
        ('shift_voxel_half_syn_d_nearest', 'syn_d', 'image',
         [('shift', {'offset': [0.5, -1.5, 2.5], 'unit': 'voxel', **N})]),
        ('shift_fraction_syn_a_linear', 'syn_a', 'image',
         [('shift', {'offset': [0.1, -0.05, 0.2], 'unit': 'fraction', **L})]),
        ('shift_mm_4d_linear', '4d', 'image', [('shift', {'offset': [5.0, -3.3, 2.0], **L})]),
        # --- rotate ----------------------------------------------------------------------------
        ('rotate_epi_axes01_15_linear', 'epi', 'image', [('rotate', {'axes': [0, 1], 'angle': 15.0, **L})]),
        ('rotate_epi_axes12_m23.5_cubic', 'epi', 'image', [('rotate', {'axes': [1, 2], 'angle': -23.5, **C})]),
        ('rotate_syn_a_axes02_30_nearest', 'syn_a', 'image', [('rotate', {'axes': [0, 2], 'angle': 30.0, **N})]),
        ('rotate_syn_b_axes10_12_linear', 'syn_b', 'image', [('rotate', {'axes': [1, 0], 'angle': 12.0, **L})]),
        ('rotate_syn_c_axes01_90_linear', 'syn_c', 'image', [('rotate', {'axes': [0, 1], 'angle': 90.0, **L})]),
        ('rotate_syn_d_axes12_25_reshape_linear', 'syn_d', 'image',
         [('rotate', {'axes': [1, 2], 'angle': 25.0, 'reshape': True, **L})]),
        ('rotate_4d_axes01_10_linear', '4d', 'image', [('rotate', {'axes': [0, 1], 'angle': 10.0, **L})]),
        # --- scale / affine ----------------------------------------------------------------------
        ('scale_syn_b_per_axis_cubic', 'syn_b', 'image', [('scale', {'factor': [0.9, 1.1, 1.25], **C})]),
        ('scale_epi_0.8_nearest', 'epi', 'image', [('scale', {'factor': 0.8, **N})]),
        ('affine_world_3x3_shear_syn_c_linear', 'syn_c', 'image',
         [('affine', {'matrix': shear, 'translation': [2.0, -1.0, 3.0], **L})]),
        ('affine_world_4x4_epi_cubic', 'epi', 'image', [('affine', {'matrix': m4, **C})]),
        ('affine_voxel_3x4_syn_d_linear', 'syn_d', 'image',
         [('affine', {'matrix': [r + [t] for r, t in zip(shear, [1.0, 0.5, -2.0])], 'translation': [0.5, 0, 0],
                      'frame': 'voxel', **L})]),
        # --- resample_to_spacing / resize ------------------------------------------------------
        ('resample_to_spacing_keep_syn_a_1.5_linear', 'syn_a', 'image',
         [('resample_to_spacing', {'spacing': [1.5, 1.5, 1.5], **L})]),
        ('resample_to_spacing_keep_syn_b_1.0_nearest', 'syn_b', 'image',
         [('resample_to_spacing', {'spacing': [1.0, 1.0, 1.0], **N})]),
        ('resample_to_spacing_keep_anat_axis_aligned_2.0_linear', 'anat', 'image',
         [('resample_to_spacing', {'spacing': [2.0, 2.0, 2.0], **L})]),
        ('resample_to_spacing_output_space_epi_2.5_linear', 'epi', 'image',
         [('resample_to_spacing', {'spacing': [2.5, 2.5, 2.5], 'oblique': 'to_output_space', **L})]),
        ('resample_to_spacing_output_space_syn_c_2.0_cubic', 'syn_c', 'image',
         [('resample_to_spacing', {'spacing': [2.0, 2.0, 2.0], 'oblique': 'to_output_space', **C})]),
        ('resample_to_spacing_output_space_4d_3.0_linear', '4d', 'image',
         [('resample_to_spacing', {'spacing': [3.0, 3.0, 3.0], 'oblique': 'to_output_space', **L})]),
        ('resize_factor_0.7_syn_a_linear', 'syn_a', 'image', [('resize', {'factor': 0.7, **L})]),
        ('resize_factor_aniso_syn_c_cubic', 'syn_c', 'image', [('resize', {'factor': [1.3, 0.8, 1.5], **C})]),
        ('resize_shape_epi_nearest', 'epi', 'image', [('resize', {'shape': [40, 48, 40], **N})]),
        ('resize_grid_mode_syn_b_linear', 'syn_b', 'image', [('resize', {'factor': 0.6, 'grid_mode': True, **L})]),
        # --- exact grid ops ----------------------------------------------------------------------
        ('crop_centred_epi', 'epi', 'image', [('crop', {'size': [40, 50, 30]})]),
        ('crop_pad_edge_syn_b', 'syn_b', 'image',
         [('crop', {'start': [-3, 5, 2], 'size': [40, 30, 36], 'pad': True, 'mode': 'edge'})]),
        ('pad_reflect_syn_c', 'syn_c', 'image',
         [('pad', {'before': [2, 0, 3], 'after': [1, 4, 0], 'mode': 'reflect'})]),
        ('crop_or_pad_symmetric_syn_d', 'syn_d', 'image',
         [('crop_or_pad', {'shape': [28, 45, 33], 'mode': 'symmetric'})]),
        ('flip_epi_axis0', 'epi', 'image', [('flip', {'axis': 0})]),
        ('flip_syn_a_axes12', 'syn_a', 'image', [('flip', {'axis': [1, 2]})]),
        ('reorient_syn_c_permuted', 'syn_c', 'image', [('reorient', {})]),
        ('reorient_4d_las', '4d', 'image', [('reorient', {})]),
        # --- fused chains ----------------------------------------------------------------------
        ('chain_rotate_scale_shift_syn_a_linear', 'syn_a', 'image',
         [('rotate', {'axes': [0, 1], 'angle': 14.0, **L}), ('scale', {'factor': 1.1, **L}),
          ('shift', {'offset': [2.0, -1.5, 3.0], **L})]),
        ('chain_rotate_scale_shift_epi_cubic', 'epi', 'image',
         [('rotate', {'axes': [1, 2], 'angle': -9.0, **C}), ('scale', {'factor': [0.95, 1.05, 1.0], **C}),
          ('shift', {'offset': [-3.0, 4.5, 1.0], **C})]),
        ('chain_crop_rotate_syn_b_linear', 'syn_b', 'image',
         [('crop', {'start': [2, 4, 3], 'size': [30, 36, 26]}), ('rotate', {'axes': [0, 2], 'angle': 18.0, **L})]),
        ('chain_resize_flip_syn_c_linear', 'syn_c', 'image',
         [('resize', {'factor': 0.75, **L}), ('flip', {'axis': [0, 2]})]),
        ('chain_rotate_crop_syn_d_linear', 'syn_d', 'image',
         [('rotate', {'axes': [0, 1], 'angle': -21.0, **L}), ('crop', {'start': [4, 6, 5], 'size': [24, 30, 26]})]),
        ('chain_shift_pad_syn_a_linear', 'syn_a', 'image',
         [('shift', {'offset': [1.1, 0.0, -2.0], **L}), ('pad', {'before': [2, 2, 1], 'after': [0, 3, 1]})]),
        ('chain_mixed_interp_syn_b', 'syn_b', 'image',
         [('rotate', {'axes': [1, 2], 'angle': 7.0, **N}), ('shift', {'offset': [0.7, 0.3, -1.1], **L})]),
        ('chain_rotate_reorient_syn_c_linear', 'syn_c', 'image',
         [('rotate', {'axes': [1, 2], 'angle': 12.0, **L}), ('reorient', {})]),
        ('chain_resample_to_spacing_crop_or_pad_epi_linear', 'epi', 'image',
         [('resample_to_spacing', {'spacing': [2.0, 2.0, 2.0], **L}), ('crop_or_pad', {'shape': [80, 96, 40]})]),
        # --- labels (nearest) ----------------------------------------------------------------------
        ('label_rotate', 'lab', 'label', [('rotate', {'axes': [0, 1], 'angle': 22.0, **LN})]),
        ('label_scale', 'lab', 'label', [('scale', {'factor': [1.2, 0.93, 1.0], **LN})]),
        ('label_resize', 'lab', 'label', [('resize', {'factor': [0.8, 1.5, 1.4], **LN})]),
        ('label_resample_to_spacing_output_space', 'lab', 'label',
         [('resample_to_spacing', {'spacing': [1.5, 1.5, 1.5], 'oblique': 'to_output_space', **LN})]),
        ('label_crop_pad', 'lab', 'label', [('crop', {'start': [-2, 3, 4], 'size': [36, 40, 24], 'pad': True})]),
        ('label_reorient', 'lab', 'label', [('reorient', {})]),
        ('label_chain_rotate_scale_shift', 'lab', 'label',
         [('rotate', {'axes': [0, 2], 'angle': -16.0, **LN}), ('scale', {'factor': 0.9, **LN}),
          ('shift', {'offset': [1.0, 1.5, -2.5], **LN})]),
    ]
    return c


def graph(kind, ops):
    nodes = [{'name': 'in', 'op': 'load', 'params': {'input': 'image', 'kind': kind}}]
    prev = 'in'
    for i, (op, p) in enumerate(ops):
        name = f'n{i + 1}_{op}'
        nodes.append({'name': name, 'op': op, 'params': p, 'inputs': {'volume': prev}})
        prev = name
    nodes.append({'name': 'out', 'op': 'save', 'params': {'path': 'out.nii.gz'}, 'inputs': {'volume': prev}})
    return {'seed': 0, 'outputs': 1, 'nodes': nodes}


def is_exact(kind, ops, sim):
    if kind == 'label':
        return True
    # no resampling happened (identity / exact grid ops), or only nearest
    if not sim.matrices:
        return True
    return all(RANK[merge_resampling(p)['interpolation']] == 0 for op, p in ops if op in SPATIAL)


def crosscheck(name, key, kind, ops, x, a, y, y_aff):
    """Independent library calls the docs claim equality with."""
    op, p = ops[0]
    if len(ops) != 1:
        return None
    order = ORDER[p.get('interpolation', 'linear')] if kind == 'image' else 0
    # The fill the case's graph uses (voxflow's default is the image's minimum), as the peer's cval.
    fill = p.get('fill', 'minimum') if kind == 'image' else p.get('label_fill', 0)
    cval = float(np.nanmin(x)) if fill == 'minimum' else float(fill)
    if op == 'resize' and 'factor' in p:
        gm = p.get('grid_mode', False)
        kw = dict(order=order, mode='grid-constant' if gm else 'constant', grid_mode=gm, cval=cval)
        z = np.stack([ndi.zoom(x[..., t], p['factor'], **kw) for t in range(x.shape[3])], -1)
        call = f"scipy.ndimage.zoom(x, {p['factor']}, order={order}, mode='{kw['mode']}', grid_mode={gm}, cval={cval!r})"
        return compare(call, z, y)
    if op == 'resample_to_spacing':
        oblique = p.get('oblique', 'keep_orientation')
        if oblique == 'keep_orientation' and not np.allclose(np.abs(a[:3, :3]), np.diag(np.abs(np.diag(a[:3, :3])))):
            return None  # nibabel has no keep-orientation counterpart for an oblique grid
        outs, aff = [], None
        for t in range(x.shape[3]):
            r = nibabel.processing.resample_to_output(nib.Nifti1Image(x[..., t], a), p['spacing'], order=order,
                                                      mode='constant', cval=cval)
            outs.append(np.asanyarray(r.dataobj))
            aff = r.affine
        z = np.stack(outs, -1)
        call = (f"nibabel.processing.resample_to_output(nibabel.Nifti1Image(x, A), {p['spacing']}, order={order}, "
                f"mode='constant', cval={cval!r})" + (' per frame' if x.shape[3] > 1 else ''))
        res = compare(call, z, y)
        res['affine_max_abs_diff'] = float(np.abs(aff - y_aff).max())
        return res
    if op == 'reorient':
        r = nib.Nifti1Image(x if x.shape[3] > 1 else x[..., 0], a)
        r = nib.as_closest_canonical(r)
        z = np.asanyarray(r.dataobj)
        z = z if z.ndim == 4 else z[..., None]
        res = compare('nibabel.as_closest_canonical(nibabel.Nifti1Image(x, A))', z, y)
        res['affine_max_abs_diff'] = float(np.abs(r.affine - y_aff).max())
        return res
    if op == 'crop' and p.get('start') and min(p['start']) >= 0:
        s = p['start']
        sl = tuple(slice(s[i], s[i] + p['size'][i]) for i in range(3))
        r = nib.Nifti1Image(x[..., 0] if x.shape[3] == 1 else x, a).slicer[sl]
        return {'against': f'nibabel img.slicer[{sl}].affine', 'affine_max_abs_diff': float(np.abs(r.affine - y_aff).max())}
    return None


def compare(call, z, y):
    if z.shape != y.shape:
        return {'against': call, 'shape_equal': False, 'their_shape': list(z.shape)}
    d = np.abs(z.astype(np.float64) - y.astype(np.float64))
    return {'against': call, 'shape_equal': True, 'max_abs_diff': float(d.max()), 'n_differing': int((d > 0).sum())}


def self_check():
    """The mirrors above against the axis-aligned equalities voxflow documents (rotate.rs,
    shift.rs, scale.rs, affine.rs module docs): on an isotropic RAS volume (affine = 2 mm x I)
    rotate = scipy.ndimage.rotate, shift = scipy.ndimage.shift (voxels), scale s =
    affine_transform(x, diag(1/s), c - c/s), affine F = affine_transform(x, inv(F), c - inv(F) c)."""
    rng = np.random.default_rng(1)
    x = rng.random((21, 18, 15)).astype(np.float32) + 1
    a = np.diag([2.0, 2.0, 2.0, 1.0])
    a[:3, 3] = [-20, 7, 3]
    c = (np.array(x.shape) - 1) / 2.0

    def run(op, p):
        shape, aff, m, _ = spatial_step(op, p, x.shape, a)
        m = snap(m)
        return ndi.affine_transform(x, m[:3, :3], m[:3, 3], output_shape=shape, order=1), shape, aff

    for axes, ang in (([0, 1], 17.0), ([2, 1], -30.0), ([0, 2], 90.0)):
        y, _, _ = run('rotate', {'axes': axes, 'angle': ang})
        assert np.allclose(y, ndi.rotate(x, ang, axes=axes, reshape=False, order=1), atol=1e-4), ('rotate', axes, ang)
        y, shape, _ = run('rotate', {'axes': axes, 'angle': ang, 'reshape': True})
        r = ndi.rotate(x, ang, axes=axes, reshape=True, order=1)
        assert shape == r.shape and np.allclose(y, r, atol=1e-4), ('rotate reshape', axes, ang, shape, r.shape)
    y, _, _ = run('shift', {'offset': [3.0, -2.5, 1.0]})
    assert np.allclose(y, ndi.shift(x, [1.5, -1.25, 0.5], order=1), atol=1e-5), 'shift'
    y, _, _ = run('scale', {'factor': 1.2})
    assert np.allclose(y, ndi.affine_transform(x, np.eye(3) / 1.2, c - c / 1.2, order=1), atol=1e-5), 'scale'
    f = np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.05], [0.02, 0.0, 0.9]])
    y, _, _ = run('affine', {'matrix': f.tolist()})
    fi = np.linalg.inv(f)
    assert np.allclose(y, ndi.affine_transform(x, fi, c - fi @ c, order=1), atol=1e-5), 'affine'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out_dir')
    ap.add_argument('--data', required=True, help="voxflow's sample data directory")
    args = ap.parse_args()
    t0 = time.time()
    self_check()
    out = args.out_dir
    for sub in ('inputs', 'expected'):
        if os.path.isdir(os.path.join(out, sub)):
            shutil.rmtree(os.path.join(out, sub))
    os.makedirs(os.path.join(out, 'expected'), exist_ok=True)
    make_inputs(out, args.data)
    manifest = []
    warnings = []
    for name, key, kind, ops in cases(out):
        x, a = read_input(out, key, kind)
        sim = Sim(kind, x, a)
        for op, p in ops:
            sim.apply(op, p)
        v = sim.materialize()
        y, y_aff = v.data, v.affine
        assert y.dtype == (np.float32 if kind == 'image' else x.dtype), (name, y.dtype)
        if kind == 'image' and all(op in SPATIAL | {'elastic'} for op, _ in ops) and v.shape == x.shape[:3] \
                and not sim.matrices:
            assert np.array_equal(y, x), name
        ysave = y[..., 0] if y.shape[3] == 1 else y
        save_nifti(np.ascontiguousarray(ysave), y_aff, os.path.join(out, 'expected', name + '.nii.gz'))
        calls = ['y = x'] + (sim.calls or ['# every op passes the value through'])
        cc = crosscheck(name, key, kind, ops, x, a, y, y_aff)
        case = {
            'name': name,
            'input': 'inputs/' + INPUT_FILES[key],
            'kind': kind,
            'graph': graph(kind, ops),
            'expected': f'expected/{name}.nii.gz',
            'exact': is_exact(kind, ops, sim),
            'call': '; '.join(calls),
            'voxel_matrix': sim.matrices[0].tolist() if sim.matrices else None,
            'expected_shape': list(ysave.shape),
            'expected_affine': y_aff.tolist(),
            'expected_dtype': str(y.dtype),
            'expected_sum': float(y.astype(np.float64).sum()),
            'derivation': sim.why,
            'edge_band_hits': sim.edge_band,
            'strict_edge_voxels': sim.strict_edge_diff,
            'near_ties': sim.near_ties,
        }
        if cc:
            case['crosscheck'] = cc
            if cc.get('max_abs_diff', 0) != 0 or cc.get('shape_equal') is False or cc.get('affine_max_abs_diff', 0) > 1e-9:
                warnings.append(f'{name}: crosscheck differs: {cc}')
        if sim.near_ties:
            warnings.append(f'{name}: {sim.near_ties} order-0 near-ties')
        if sim.edge_band or sim.strict_edge_diff:
            warnings.append(f'{name}: {sim.edge_band} coordinates in the 1e-6 edge band; plain affine_transform differs in {sim.strict_edge_diff} voxels')
        manifest.append(case)
    manifest.extend(resample_to_cases(out))
    manifest.extend(pad_to_multiple_cases(out))
    manifest.extend(intensity_cases(out))
    manifest.extend(spatial_cases(out))
    gen = f'numpy {np.__version__}, scipy {scipy.__version__}, nibabel {nib.__version__}'
    doc = {'generator': gen,
           'notes': ('x = input voxels as voxflow loads them (images: get_fdata(float64).astype(float32); '
                     'labels: stored integer type), shape (X,Y,Z) or (X,Y,Z,T); A = input affine (nibabel img.affine); '
                     'M = voxel_matrix (output voxel -> input voxel, already snapped to 2^-20 as voxflow does); '
                     'expected_affine is float64 (the expected file stores it as float32 sform/qform).'),
           'cases': manifest}
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    for w in warnings:
        print('note:', w, file=sys.stderr)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f'{len(manifest)} cases written to {out} ({size / 1e6:.1f} MB) in {time.time() - t0:.1f} s; {gen}')


def resample_to_cases(out):
    """`resample_to` (a volume onto another volume's grid, in world space) against
    nibabel.processing.resample_from_to, directly: the expected file is nibabel's output.

    Pairs of inputs on different oblique, anisotropic grids (the mixed-grid case of a
    multi-modal dataset), images at orders 0/1/3 and a label map at order 0."""
    import nibabel.processing
    # (source, like-grid zooms, permutation, flips, kind, interpolation): each `like` grid is a
    # new oblique, anisotropic grid centred on the source's world centre (so the two overlap,
    # as two acquisitions of one head do), written as its own file.
    pairs = [
        ('syn_a', (1.3, 0.7, 2.2), (0, 1, 2), (1, 1, 1), 'image', 'linear'),
        ('syn_b', (0.9, 1.6, 1.1), (1, 0, 2), (1, -1, 1), 'image', 'cubic'),
        ('syn_c', (2.0, 1.0, 1.0), (0, 2, 1), (1, 1, -1), 'image', 'nearest'),
        ('epi', (3.1, 2.7, 3.9), (0, 1, 2), (-1, 1, 1), 'image', 'linear'),
        ('anat', (1.7, 1.7, 1.7), (2, 1, 0), (1, 1, 1), 'image', 'cubic'),
        ('lab', (0.8, 1.3, 1.9), (0, 1, 2), (1, 1, 1), 'label', 'nearest'),
        ('lab', (1.5, 1.5, 1.5), (1, 2, 0), (-1, 1, 1), 'label', 'nearest'),
    ]
    rng = np.random.default_rng(SEED + 1)
    found = []
    for index, (src, zooms, perm, flip, kind, interp) in enumerate(pairs):
        x, a = read_input(out, src, kind)
        n = np.array(x.shape[:3], dtype=float)
        extent = n * spacing(a)
        like_shape = tuple(int(v) for v in np.maximum(np.round(0.9 * extent / np.array(zooms)), 4))
        like_affine = oblique_affine(rng, zooms, perm, flip)
        centre = (a @ np.append((n - 1) / 2, 1.0))[:3]
        like_affine[:3, 3] = centre - like_affine[:3, :3] @ ((np.array(like_shape) - 1) / 2)
        like = f'like_{index}_{src}'
        save_nifti(np.zeros(like_shape, np.uint8), like_affine, os.path.join(out, 'inputs', like + '.nii.gz'))
        name = f'resample_to_{src}_{index}_{interp}'
        like_img = nib.load(os.path.join(out, 'inputs', like + '.nii.gz'))
        target = (like_img.shape[:3], like_img.affine)
        order = ORDER[interp]
        src_img = nib.Nifti1Image(x[..., 0], a)
        y = nibabel.processing.resample_from_to(src_img, target, order=order, mode='constant', cval=0)
        data = np.asanyarray(y.dataobj)
        data = data.astype(np.float32) if kind == 'image' else data.astype(x.dtype)
        assert (data != 0).mean() > 0.2, f'{name}: the grids barely overlap'
        save_nifti(np.ascontiguousarray(data), y.affine, os.path.join(out, 'expected', name + '.nii.gz'))
        nodes = [
            {'name': 'in', 'op': 'load', 'params': {'input': 'image', 'kind': kind}},
            {'name': 'like', 'op': 'load', 'params': {'input': 'like'}},
            {'name': 'op', 'op': 'resample_to', 'params': {'interpolation': interp, 'fill': 0},
             'inputs': {'volume': 'in', 'like': 'like'}},
            {'name': 'out', 'op': 'save', 'params': {'path': 'out.nii.gz'}, 'inputs': {'volume': 'op'}},
        ]
        found.append({
            'name': name,
            'input': 'inputs/' + INPUT_FILES[src],
            'inputs': {'like': f'inputs/{like}.nii.gz'},
            'kind': kind,
            'graph': {'seed': 0, 'nodes': nodes},
            'expected': f'expected/{name}.nii.gz',
            'exact': kind == 'label' or order == 0,
            'call': (f"nibabel.processing.resample_from_to(nibabel.Nifti1Image(x, A), "
                     f"(like.shape[:3], like.affine), order={order}, mode='constant', cval=0)"),
            'expected_shape': list(data.shape),
            'expected_affine': y.affine.tolist(),
            'expected_dtype': str(data.dtype),
            'crosscheck': sitk_crosscheck(x[..., 0], a, like_shape, like_affine, interp, data),
        })
    return found


def sitk_crosscheck(x, a, like_shape, like_affine, interp, expected):
    """SimpleITK's `Resample` with the `like` image as reference, against the expected
    (nibabel) output, on the voxels whose source point is inside the source grid: ITK counts
    the half voxel beyond the outer voxel centres as inside, scipy and nibabel do not, so the
    outermost shell differs by design. Returns None where SimpleITK is not installed or the
    interpolation has no ITK counterpart with scipy's semantics (cubic: ITK's B-spline has
    other boundary conditions)."""
    try:
        import SimpleITK as sitk
    except ImportError:
        return None
    if interp not in ('linear', 'nearest'):
        return None
    lps = np.diag([-1.0, -1.0, 1.0])

    def to_sitk(data, affine):
        img = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(data).transpose(2, 1, 0)))
        zooms = np.linalg.norm(affine[:3, :3], axis=0)
        img.SetSpacing([float(v) for v in zooms])
        img.SetDirection([float(v) for v in (lps @ (affine[:3, :3] / zooms)).ravel()])
        img.SetOrigin([float(v) for v in lps @ affine[:3, 3]])
        return img

    src = to_sitk(x, a)
    ref = to_sitk(np.zeros(like_shape, np.float32), like_affine)
    kind = sitk.sitkLinear if interp == 'linear' else sitk.sitkNearestNeighbor
    out = sitk.Resample(src, ref, sitk.Transform(), kind, 0.0, src.GetPixelID())
    z = sitk.GetArrayFromImage(out).transpose(2, 1, 0).astype(np.float64)
    # Source coordinates of every output voxel: inside [0, n-1] with a voxel to spare.
    idx = np.indices(like_shape, dtype=np.float64).reshape(3, -1)
    m = np.linalg.inv(a) @ like_affine
    src_idx = m[:3, :3] @ idx + m[:3, 3:4]
    n = np.array(x.shape[:3], dtype=np.float64)[:, None]
    inside = np.all((src_idx >= 1.0) & (src_idx <= n - 2.0), axis=0).reshape(like_shape)
    diff = np.abs(z - np.asarray(expected, np.float64))[inside]
    value_range = float(np.ptp(expected)) or 1.0
    return {
        'against': (f"SimpleITK {sitk.Version_VersionString()}: sitk.Resample(src, like, sitk.Transform(), "
                    f"{'sitk.sitkLinear' if interp == 'linear' else 'sitk.sitkNearestNeighbor'}, 0.0)"
                    " (RAS affines as LPS direction/origin), voxels whose source point is inside the grid"),
        'voxels': int(inside.sum()),
        'max_abs_diff': float(diff.max()) if diff.size else 0.0,
        # Nearest neighbour: ITK and scipy break exact .5 ties the other way.
        'n_differing': int((diff > 1e-4 * value_range).sum()),
        'within_1e-4_of_range': bool(diff.size == 0 or diff.max() <= 1e-4 * value_range),
    }


def pad_to_multiple_cases(out):
    """`pad_to_multiple` against MONAI's DivisiblePad semantics written with numpy: total
    d = ceil(n / k) * k - n per axis, `np.pad(x, [(d // 2, d - d // 2)])` (symmetric) or
    `[(0, d)]` (end); the affine moves by the voxels added before (A . T(-before))."""
    specs = [('syn_c', 'image', 16, 'symmetric', 'constant'), ('epi', 'image', [32, 16, 8], 'end', 'edge'),
             ('lab', 'label', [8, 16, 32], 'symmetric', 'constant'), ('4d', 'image', 24, 'symmetric', 'reflect')]
    found = []
    for src, kind, k, position, mode in specs:
        x, a = read_input(out, src, kind)
        ks = [k] * 3 if isinstance(k, int) else k
        n = x.shape[:3]
        d = [(-(-n[i] // ks[i])) * ks[i] - n[i] for i in range(3)]
        widths = [((di // 2, di - di // 2) if position == 'symmetric' else (0, di)) for di in d] + [(0, 0)]
        np_mode = mode  # voxflow's pad modes are numpy's names
        y = np.pad(x, widths, mode=np_mode)
        before = [w[0] for w in widths[:3]]
        y_aff = a @ translation([-b for b in before])
        name = f'pad_to_multiple_{src}_{position}_{mode}'
        ysave = y[..., 0] if y.shape[3] == 1 else y
        save_nifti(np.ascontiguousarray(ysave), y_aff, os.path.join(out, 'expected', name + '.nii.gz'))
        params = {'multiple': k, 'position': position, 'mode': mode}
        found.append({
            'name': name,
            'input': 'inputs/' + INPUT_FILES[src],
            'kind': kind,
            'graph': {'seed': 0, 'nodes': [
                {'name': 'in', 'op': 'load', 'params': {'input': 'image', 'kind': kind}},
                {'name': 'op', 'op': 'pad_to_multiple', 'params': params, 'inputs': {'volume': 'in'}},
                {'name': 'out', 'op': 'save', 'params': {'path': 'out.nii.gz'}, 'inputs': {'volume': 'op'}}]},
            'expected': f'expected/{name}.nii.gz',
            'exact': True,
            'call': f"numpy.pad(x, {widths}, mode={np_mode!r})  # MONAI DivisiblePad({k}, method={position!r}) semantics",
            'expected_shape': list(ysave.shape),
            'expected_affine': y_aff.tolist(),
            'expected_dtype': str(y.dtype),
        })
    return found


if __name__ == '__main__':
    main()

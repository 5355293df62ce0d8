#!/usr/bin/env python3
"""Write the reference sweep of nibabel's `io_orientation` for voxflow-core's orientation test.

Usage: scripts/make_orientation_reference.py [OUT]
(default OUT: crates/core/tests/data/orientation_sweep.json)

Needs the pinned nibabel (the version voxflow_core::orientation copies):

    python3 -m venv /work/venv-orient
    /work/venv-orient/bin/pip install nibabel==5.4.2
    /work/venv-orient/bin/python scripts/make_orientation_reference.py

The sweep: rotations over a grid of Euler angles (22.5 degree steps, so 45 degree ties are in),
random rotations with anisotropic voxel sizes and flips, rotations times shears, general
(non-orthogonal) matrices whose columns compete for the same world axis, near-ties (45 degrees
plus 1e-2 .. 1e-8 rad), all signed permutations, and degenerate matrices (zero columns,
rank 1 and 2, non-finite entries). Each 3x3 matrix is rounded to a few significant digits
*first*, and nibabel's answer is computed from the rounded matrix, so the file holds exactly
the numbers nibabel saw. Translations do not enter io_orientation and are not stored.

Output (compact JSON): {"nibabel": version, "numpy": version, "groups": {name: [[m, codes,
ties], ...]}} where m is the 3x3 matrix row by row as a space-separated string of decimal
numbers (parse each with a correctly rounding parser), codes is `ornt2axcodes` of the answer
with '?' for a dropped axis (None in nibabel) or "error" when nibabel raises (LinAlgError on
non-finite input), and ties is "" unless the answer is decided by floating-point noise: some
choice (the order of the columns, an argmax) is within 1e-10 of going the other way and
choosing otherwise would change the answer; then ties lists every answer those choices can
give, space-separated. Such cases are exact ties in the stored numbers (45 degrees exactly,
rounded), and nibabel's own answer on them depends on the rounding of the SVD: with the same
numpy wheel on the same machine, OPENBLAS_CORETYPE=Haswell, SkylakeX and Prescott disagree on
24 to 42 of them.
"""

import itertools
import json
import math
import os
import sys

import nibabel
import numpy as np
import numpy.linalg as npl
from nibabel.orientations import aff2axcodes, io_orientation

PINNED = "5.4.2"
TIE_EPS = 1e-10


def rot_x(t):
    c, s = math.cos(t), math.sin(t)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(t):
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(t):
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def euler(a, b, c):
    return rot_z(a) @ rot_y(b) @ rot_x(c)


def random_rotation(rng):
    q = rng.normal(size=4)
    q /= npl.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def rounded(m, digits):
    """The matrix with every entry rounded to `digits` significant digits (as the file holds it)."""
    return np.array([[float(f"{v:.{digits}g}") for v in row] for row in m])


def text(m):
    return " ".join(repr(float(v)).removesuffix(".0") for v in m.ravel())


def codes_of(m):
    aff = np.eye(4)
    aff[:3, :3] = m
    try:
        ornt = io_orientation(aff)
    except npl.LinAlgError:
        return "error"
    codes = aff2axcodes(aff)
    assert codes == nibabel.orientations.ornt2axcodes(ornt)
    return "".join("?" if c is None else c for c in codes)


def possible_answers(m):
    """Every answer io_orientation could give if each of its decisions within TIE_EPS of a tie
    went either way (nibabel's own R, its own loop, with the choices enumerated)."""
    rzs = np.array(m, dtype=float)
    zooms = np.sqrt(np.sum(rzs * rzs, axis=0))
    zooms[zooms == 0] = 1
    rs = rzs / zooms
    p_, s_, qs = npl.svd(rs, full_matrices=False)
    tol = s_.max() * max(rs.shape) * np.finfo(s_.dtype).eps
    keep = s_ > tol
    r0 = np.dot(p_[:, keep], qs[keep])
    keys = np.min(-(r0**2), axis=0)
    labels = list(zip("LPI", "RAS"))
    answers = set()

    def orders():
        base = list(np.argsort(keys, kind="stable"))
        for perm in itertools.permutations(range(3)):
            # a permutation is possible when it never puts a column before one whose key is
            # smaller by more than TIE_EPS
            ok = all(keys[perm[i]] <= keys[perm[j]] + TIE_EPS for i in range(3) for j in range(i + 1, 3))
            if ok or list(perm) == base:
                yield perm

    def walk(r, order, codes):
        if not order:
            answers.add("".join(codes))
            return
        in_ax, rest = order[0], order[1:]
        col = r[:, in_ax]
        if np.allclose(col, 0):
            c = list(codes)
            c[in_ax] = "?"
            walk(r, rest, c)
            return
        top = np.abs(col).max()
        for out_ax in range(3):
            if np.abs(col[out_ax]) >= top - TIE_EPS:
                c = list(codes)
                c[in_ax] = labels[out_ax][0 if col[out_ax] < 0 else 1]
                r2 = r.copy()
                r2[out_ax, :] = 0
                walk(r2, rest, c)

    for order in orders():
        walk(r0.copy(), list(order), ["?"] * 3)
    return answers


def sweep():
    rng = np.random.default_rng(20250702)
    flips = [np.diag(s) for s in itertools.product([1, -1], repeat=3)]
    zoom_sets = [(1, 1, 1), (0.5, 0.5, 3), (2, 1, 0.7), (0.9375, 0.9375, 5), (3, 0.8, 1.2)]
    groups = {}

    # Euler grid: 22.5 degree steps include the 45 and 135 degree ties and exact 90s.
    step = math.pi / 8
    g = []
    i = 0
    for a in range(16):
        for b in range(9):
            for c in range(16):
                z = np.diag(zoom_sets[i % len(zoom_sets)])
                f = flips[(i // len(zoom_sets)) % 8]
                g.append((euler(a * step, b * step, c * step) @ f @ z, 7))
                i += 1
    groups["euler_grid"] = g

    # Random rotations, anisotropic voxel sizes, random flips.
    g = []
    for _ in range(1500):
        z = np.diag(np.exp(rng.uniform(math.log(0.3), math.log(5), 3)))
        g.append((random_rotation(rng) @ flips[rng.integers(8)] @ z, 7))
    groups["random_rotation"] = g

    # Rotations times shears (the polar decomposition matters).
    g = []
    for _ in range(800):
        shear = np.eye(3)
        shear[np.triu_indices(3, 1)] = rng.uniform(-0.6, 0.6, 3)
        if rng.random() < 0.5:
            shear = shear.T
        z = np.diag(rng.uniform(0.4, 4, 3))
        g.append((random_rotation(rng) @ shear @ z @ flips[rng.integers(8)], 7))
    groups["shear"] = g

    # General matrices: columns far from orthogonal compete for the same world axis, so the
    # strongest-column-first order of nibabel >= 5.4 decides.
    g = []
    for _ in range(800):
        g.append((rng.normal(size=(3, 3)), 7))
    # nibabel's own regression case (test_io_orientation_column_strength_regression).
    g.append(
        (
            np.array(
                [
                    [2.08759499e00, 7.70245194e-02, 1.12271041e-01],
                    [-1.04219818e00, 1.58019245e-01, -5.34135476e-02],
                    [-2.33361936e00, -1.66752085e-03, 1.24289364e-01],
                ]
            ),
            9,
        )
    )
    # Duplicate-ish columns: two voxel axes nearly along the same world direction.
    for _ in range(200):
        m = random_rotation(rng)
        a, b = rng.choice(3, 2, replace=False)
        m[:, b] = m[:, a] + rng.normal(scale=0.3, size=3)
        g.append((m @ np.diag(rng.uniform(0.5, 3, 3)), 7))
    groups["competing"] = g

    # Near-ties: 45 degrees (one, two or three axes) plus a small offset.
    g = []
    deltas = [s * 10.0**-k for k in range(2, 9) for s in (1, -1)]
    for d in deltas:
        for axes in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 1)]:
            for f in (flips[0], flips[3], flips[5]):
                ang = [(math.pi / 4 + d) if on else 0.0 for on in axes]
                g.append((euler(*ang) @ f @ np.diag([0.8, 0.8, 2.5]), 10))
                ang = [(math.pi / 4 - d / 3) if on else 0.1 * d for on in axes]
                g.append((euler(*ang) @ f, 10))
    for _ in range(300):
        d = rng.choice(deltas)
        ang = [math.pi / 4 * rng.integers(-3, 4) + d * rng.normal() for _ in range(3)]
        g.append((euler(*ang) @ flips[rng.integers(8)] @ np.diag(rng.uniform(0.5, 3, 3)), 10))
    groups["near_tie"] = g

    # Signed permutations (every axis-aligned orientation), a few voxel sizes.
    g = []
    for perm in itertools.permutations(range(3)):
        for f in flips:
            for z in zoom_sets[:3]:
                g.append((np.eye(3)[:, perm] @ f @ np.diag(z), 7))
    groups["axis_aligned"] = g

    # Degenerate: zero columns, rank 1 and 2, tiny voxels, non-finite entries.
    g = []
    for _ in range(40):
        m = random_rotation(rng) @ np.diag(rng.uniform(0.5, 3, 3))
        for zero in ([0], [1], [2], [0, 1], [1, 2], [0, 2]):
            mm = m.copy()
            mm[:, zero] = 0
            g.append((mm, 7))
    for _ in range(60):
        m = random_rotation(rng)
        a, b = rng.choice(3, 2, replace=False)
        m[:, b] = m[:, a] * rng.uniform(-3, 3)
        g.append((m, 7))
        u, v = rng.normal(size=3), rng.normal(size=3)
        g.append((np.outer(u, v), 7))
    g.append((np.zeros((3, 3)), 7))
    for scale in (1e-3, 1e-6, 1e-9):
        g.append((random_rotation(rng) * scale, 7))
    g.append((np.diag([np.nan, 1, 1]), 7))
    g.append((np.diag([1, np.inf, 1]), 7))
    groups["degenerate"] = g
    return groups


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "crates", "core", "tests", "data", "orientation_sweep.json"
    )
    if nibabel.__version__ != PINNED:
        sys.exit(f"nibabel {nibabel.__version__} found, the reference is for {PINNED}")
    doc = {"nibabel": nibabel.__version__, "numpy": np.__version__, "groups": {}}
    total = ties = 0
    for name, cases in sweep().items():
        rows = []
        for m, digits in cases:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = rounded(m, digits)
                codes = codes_of(r)
                alternatives = ""
                if codes != "error":
                    answers = possible_answers(r)
                    assert codes in answers, (r, codes, answers)
                    if len(answers) > 1:
                        alternatives = " ".join(sorted(answers))
            rows.append([text(r), codes, alternatives])
            ties += bool(alternatives)
        doc["groups"][name] = rows
        total += len(rows)
        print(f"{name}: {len(rows)} cases, {sum(bool(t) for _, _, t in rows)} ties", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{total} cases ({ties} ties) -> {out} ({os.path.getsize(out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()

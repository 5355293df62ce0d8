#!/usr/bin/env python3
"""Graph conformance cases for the intensity ops of issue 14 ("the missing ops"), against
numpy/scipy reproductions of the peers' functions (batchgenerators 9dc3d49, MONAI d388d1c):

* `gamma` with `retain_stats` -- batchgenerators/augmentations/color_augmentations.py
  `augment_gamma(..., per_channel=True, retain_stats=True)`: per channel (a voxflow frame),
  `mn, sd = x.mean(), x.std()`, `minm = x.min()`, `rnge = x.max() - minm`,
  `x = ((x - minm) / (rnge + eps)) ** g * (rnge + eps) + minm`, then
  `x = (x - x.mean()) / (x.std() + 1e-8) * sd + mn`; `invert_image` negates before and after.
* `contrast` -- `augment_contrast(x, contrast_range, preserve_range, per_channel=False)`: per
  channel `mn = x.mean()`, `x = (x - mn) * factor + mn`, clipped to the channel's original
  `[min, max]` with `preserve_range`.
* `sharpen` -- monai/transforms/intensity/array.py `GaussianSharpen`: `b = g(x, sigma1)`,
  `b + alpha * (b - g(b, sigma2))`, with g = `scipy.ndimage.gaussian_filter(., sigma_mm /
  spacing, truncate=4.0, mode='reflect')` (voxflow's blur filter, the scipy-lectures example
  MONAI cites). MONAI's own filter (erf kernel, zero padding) is reproduced too, and its
  difference to the expected output recorded as `monai_erf_zero_pad_max_diff` (informative,
  not compared).
* `rician_noise` with `std: 0` -- MONAI `RandRicianNoise._add_noise`:
  `np.sqrt((img + noise1) ** 2 + noise2 ** 2)` with both noises `R.normal(mean, 0) = mean`
  (the formula; the noise itself can not be numpy's and is tested statistically in Rust);
  batchgenerators' `augment_rician_noise` multiplies by `np.sign(x)` (`signed`).
* `dropout` -- MONAI `RandCoarseDropout._transform_holes` for given `hole_coords`: `img[h] =
  fill_value` per hole (`dropout_holes=True`), or `ret = np.full_like(img, fill_value);
  ret[h] = img[h]` (`dropout_holes=False`).

`intensity_cases(out)` writes the expected files under `out/expected` and returns the manifest
cases (the dict shape of make_graph_reference.py's `pad_to_multiple_cases`); it reads the
inputs make_graph_reference.py wrote. Run alone (`python intensity_cases.py OUT --data DATA`)
it writes the inputs and a manifest of these cases only.
"""

import os
import sys

import numpy as np
import scipy.ndimage as ndi
from scipy.special import erf


def _helpers():
    """make_graph_reference's `read_input`, `save_nifti`, `INPUT_FILES`, imported lazily (it
    imports this module; when it runs as a script it is `__main__`)."""
    main = sys.modules.get('__main__')
    if main is not None and hasattr(main, 'read_input') and hasattr(main, 'save_nifti'):
        return main
    import make_graph_reference
    return make_graph_reference


def _spacing(a):
    return np.sqrt((a[:3, :3] ** 2).sum(0))


def _frames(x, f):
    """`f` on every frame of x (X, Y, Z, T) in float64; the result as float32."""
    return np.stack([f(x[..., t].astype(np.float64)) for t in range(x.shape[3])], axis=3).astype(np.float32)


def bg_gamma(d, g, invert, eps=1e-7):
    """batchgenerators augment_gamma(per_channel=True, retain_stats=True) of one channel."""
    if invert:
        d = -d
    mn, sd = d.mean(), d.std()
    minm = d.min()
    rnge = d.max() - minm
    d = np.power((d - minm) / float(rnge + eps), g) * float(rnge + eps) + minm
    d = d - d.mean()
    d = d / (d.std() + 1e-8) * sd
    d = d + mn
    return -d if invert else d


def bg_contrast(d, factor, preserve_range):
    """batchgenerators augment_contrast of one channel."""
    mn = d.mean()
    minm, maxm = d.min(), d.max()
    d = (d - mn) * factor + mn
    if preserve_range:
        d = np.clip(d, minm, maxm)
    return d


def scipy_sharpen(d, s1, s2, alpha):
    b = ndi.gaussian_filter(d, s1, truncate=4.0, mode='reflect')
    bb = ndi.gaussian_filter(b, s2, truncate=4.0, mode='reflect')
    return b + alpha * (b - bb)


def monai_sharpen(d, s1, s2, alpha):
    """MONAI GaussianSharpen as torch runs it: gaussian_1d(approx='erf') (not normalised,
    tail int(max(4 sigma, 0.5) + 0.5)) per axis, zero padding (separable_filtering)."""
    def kernel(sigma):
        tail = int(max(sigma * 4.0, 0.5) + 0.5)
        x = np.arange(-tail, tail + 1, dtype=np.float64)
        t = 0.70710678 / abs(sigma)
        return np.clip(0.5 * (erf(t * (x + 0.5)) - erf(t * (x - 0.5))), 0, None)

    def g(v, sigmas):
        for axis, s in enumerate(sigmas):
            v = ndi.correlate1d(v, kernel(s), axis=axis, mode='constant', cval=0.0)
        return v
    b = g(d, s1)
    return b + alpha * (b - g(b, s2))


def _case(h, out, name, src, op, params, y, call, exact, extra=None):
    x_aff = h.read_input(out, src, 'image')[1]
    ysave = y[..., 0] if y.shape[3] == 1 else y
    h.save_nifti(np.ascontiguousarray(ysave), x_aff, os.path.join(out, 'expected', name + '.nii.gz'))
    case = {
        'name': name,
        'input': 'inputs/' + h.INPUT_FILES[src],
        'kind': 'image',
        'graph': {'seed': 0, 'nodes': [
            {'name': 'in', 'op': 'load', 'params': {'input': 'image', 'kind': 'image'}},
            {'name': 'op', 'op': op, 'params': params, 'inputs': {'volume': 'in'}},
            {'name': 'out', 'op': 'save', 'params': {'path': 'out.nii.gz'}, 'inputs': {'volume': 'op'}}]},
        'expected': f'expected/{name}.nii.gz',
        'exact': exact,
        'call': call,
        'expected_shape': list(ysave.shape),
        'expected_affine': x_aff.tolist(),
        'expected_dtype': 'float32',
    }
    case.update(extra or {})
    return case


def intensity_cases(out):
    h = _helpers()
    found = []

    # gamma, retain_stats (batchgenerators draws gamma in (max(lo, 1), hi): a range (g, g) with
    # g >= 1 is exactly g).
    for src, g, invert in [('syn_a', 1.6, False), ('epi', 2.2, True), ('4d', 1.3, False)]:
        x, _ = h.read_input(out, src, 'image')
        y = _frames(x, lambda d: bg_gamma(d, g, invert))
        call = (f'y = x; for each frame t: y[..., t] = batchgenerators.augmentations.color_augmentations.augment_gamma('
                f'x[..., t][None], gamma_range=({g}, {g}), invert_image={invert}, epsilon=1e-7, per_channel=True, '
                f'retain_stats=True)[0]')
        found.append(_case(h, out, f'gamma_retain_stats_{src}{"_inverted" if invert else ""}', src, 'gamma',
                           {'gamma': g, 'rescale': True, 'invert': invert, 'retain_stats': True}, y, call, False))

    # contrast
    for src, factor, preserve in [('syn_b', 1.4, True), ('epi', 0.6, False), ('4d', 1.3, True), ('syn_d', 0.7, True)]:
        x, _ = h.read_input(out, src, 'image')
        y = _frames(x, lambda d: bg_contrast(d, factor, preserve))
        call = (f'y = x; for each frame t: y[..., t] = batchgenerators.augmentations.color_augmentations.augment_contrast('
                f'x[..., t][None], contrast_range=lambda: {factor}, preserve_range={preserve}, per_channel=False)[0]')
        found.append(_case(h, out, f'contrast_{src}_{factor}{"_preserve" if preserve else ""}', src, 'contrast',
                           {'factor': factor, 'preserve_range': preserve}, y, call, False))

    # sharpen: sigma in mm, converted by the affine's spacing as blur does.
    for src, s1, s2, alpha in [('syn_c', 3.0, 1.0, 30.0), ('epi', [4.0, 3.0, 6.0], [2.0, 1.5, 3.0], 10.0),
                               ('4d', 2.0, 1.0, 20.0)]:
        x, a = h.read_input(out, src, 'image')
        sp = _spacing(a)
        s1v = (np.broadcast_to(s1, 3) / sp).tolist()
        s2v = (np.broadcast_to(s2, 3) / sp).tolist()
        y = _frames(x, lambda d: scipy_sharpen(d, s1v, s2v, alpha))
        monai = _frames(x, lambda d: monai_sharpen(d, s1v, s2v, alpha))
        rng_y = float(y.max() - y.min())
        interior = tuple(slice(8, -8) for _ in range(3))
        extra = {
            'monai_erf_zero_pad_max_diff': float(np.abs(monai - y).max() / rng_y),
            'monai_erf_zero_pad_interior_max_diff': float(np.abs(monai[interior] - y[interior]).max() / rng_y),
            'monai_diff_note': 'relative to the expected range; MONAI filters with an erf kernel and zero padding',
        }
        call = (f'y = x; s1 = {s1!r} / spacing = {np.round(s1v, 6).tolist()}, s2 = {s2!r} / spacing = '
                f'{np.round(s2v, 6).tolist()}; per frame: b = scipy.ndimage.gaussian_filter(x, s1, truncate=4.0, '
                f"mode='reflect'); y = b + {alpha} * (b - scipy.ndimage.gaussian_filter(b, s2, truncate=4.0, "
                f"mode='reflect'))  # monai.transforms.GaussianSharpen(sigma1=s1, sigma2=s2, alpha={alpha}) formula")
        found.append(_case(h, out, f'sharpen_{src}', src, 'sharpen',
                           {'sigma1_mm': s1, 'sigma2_mm': s2, 'alpha': alpha}, y, call, False, extra))

    # rician noise with std 0: the formula with both noises equal to `mean`.
    for src, mean, signed in [('syn_a', -40.0, False), ('epi', 3.0, True)]:
        x, _ = h.read_input(out, src, 'image')

        def rice(d):
            v = np.sqrt((d + mean) ** 2 + mean ** 2)
            return v * np.sign(d) if signed else v
        y = _frames(x, rice)
        call = (f'y = numpy.sqrt((x + noise1) ** 2 + noise2 ** 2){" * numpy.sign(x)" if signed else ""} with '
                f'noise1 = noise2 = R.normal({mean}, 0)  # monai.transforms.RandRicianNoise(prob=1, mean={mean}, '
                f'std=0, sample_std=False)._add_noise' + ('; batchgenerators augment_rician_noise sign' if signed else ''))
        found.append(_case(h, out, f'rician_noise_std0_{src}', src, 'rician_noise',
                           {'std': 0.0, 'mean': mean, 'seed': 3, 'signed': signed}, y, call, False))

    # dropout
    for src, boxes, fill, holes in [
        ('syn_b', [([3, 4, 5], [10, 8, 6]), ([30, 40, 28], [20, 20, 20])], 0.0, True),
        ('epi', [([0, 0, 0], [5, 70, 4]), ([20, 20, 10], [12, 12, 12]), ([24, 22, 12], [3, 3, 3])], 'mean', True),
        ('4d', [([40, 40, 8], [40, 30, 8]), ([90, 20, 2], [10, 10, 30])], 'min', False),
        ('syn_d', [([5, 5, 5], [8, 9, 10])], -7.5, False),
    ]:
        x, _ = h.read_input(out, src, 'image')

        def drop(d):
            value = {'mean': d.mean(), 'min': d.min()}.get(fill, fill) if isinstance(fill, str) else fill
            ret = d.copy() if holes else np.full_like(d, value)
            for start, size in boxes:
                sl = tuple(slice(s, s + n) for s, n in zip(start, size))
                ret[sl] = value if holes else d[sl]
            return ret
        y = _frames(x, drop)
        coords = [tuple(slice(s, s + n) for s, n in zip(start, size)) for start, size in boxes]
        fill_text = {'mean': 'x[..., t].mean()', 'min': 'x[..., t].min()'}.get(fill, fill) if isinstance(fill, str) else fill
        call = (f'y = x; per frame t: monai.transforms.RandCoarseDropout(holes={len(boxes)}, spatial_size=1, '
                f'dropout_holes={holes}, fill_value={fill_text}, prob=1)._transform_holes(x[..., t][None]) '
                f'with hole_coords = {[(slice(None),) + c for c in coords]}')
        params = {'boxes': [{'start': s, 'size': n} for s, n in boxes], 'fill': fill, 'dropout_holes': holes}
        found.append(_case(h, out, f'dropout_{src}', src, 'dropout', params, y, call, not isinstance(fill, str)))
    return found


if __name__ == '__main__':
    import argparse
    import json
    ap = argparse.ArgumentParser(description='Only the intensity cases (inputs written as make_graph_reference does).')
    ap.add_argument('out_dir')
    ap.add_argument('--data', required=True)
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_graph_reference as mgr
    os.makedirs(os.path.join(args.out_dir, 'expected'), exist_ok=True)
    mgr.make_inputs(args.out_dir, args.data)
    cases = intensity_cases(args.out_dir)
    with open(os.path.join(args.out_dir, 'manifest.json'), 'w') as f:
        json.dump({'generator': f'numpy {np.__version__}, scipy {__import__("scipy").__version__}', 'cases': cases}, f, indent=1)
        f.write('\n')
    print(f'{len(cases)} intensity cases written to {args.out_dir}')

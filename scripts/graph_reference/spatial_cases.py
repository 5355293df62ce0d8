"""Conformance cases for the exact axis and box ops: `rot90`, `transpose`, `crop_nonzero`.

`spatial_cases(out)` returns manifest cases shaped as make_graph_reference.py's
`pad_to_multiple_cases` (graph, input, expected file, exact, the peer's call, expected shape,
affine and dtype). Expected voxels come from numpy itself: `numpy.rot90(x, k, axes)`,
`numpy.transpose(x, axes + (3,))` and numpy slicing (`numpy.pad` where a margin runs past the
edge) of the bounding box of `x != 0` over all frames (nnU-Net's `crop_to_nonzero`, MONAI's
`CropForeground(select_fn=lambda x: x != 0, ...)`). The expected affine is derived from numpy
too, without voxflow's axis maps: the same numpy call applied to the voxel index grids
(`numpy.indices`) says which input voxel each output voxel holds, and the output affine is
`A @ M` with M read off that map (output voxel -> input voxel), so every voxel keeps its world
position. Derived inputs (images with zero backgrounds, a label map on an image's grid) are
written to OUT/inputs/spatial_*.nii.gz from the seeded synthetic inputs.
"""

import os

import numpy as np


def _index_map(f, shape):
    """The affine voxel map M (output voxel -> input voxel) of a numpy axis op `f` on a 3D
    grid of `shape`, read from `f` applied to the index grids, and checked on every voxel."""
    idx = np.indices(shape)
    src = np.stack([f(idx[d]) for d in range(3)])  # src[:, o] = input voxel of output voxel o
    m = np.eye(4)
    origin = src[(slice(None), 0, 0, 0)].astype(np.float64)
    m[:3, 3] = origin
    for a in range(3):
        e = [0, 0, 0]
        if src.shape[1 + a] > 1:
            e[a] = 1
            m[:3, a] = src[(slice(None), *e)] - origin
        else:
            # A length-1 output axis: the direction is whichever input axis is left.
            m[:3, a] = 0.0
    out_shape = src.shape[1:]
    grid = np.indices(out_shape).reshape(3, -1)
    mapped = m[:3, :3] @ grid + m[:3, 3:4]
    assert np.array_equal(mapped, src.reshape(3, -1)), 'not an affine index map'
    return m


def spatial_cases(out):
    import make_graph_reference as ref  # inside: make_graph_reference imports this module

    found = []

    def add(name, src_path, kind, op_nodes, y, y_aff, call, like=None):
        ysave = y[..., 0] if y.shape[3] == 1 else y
        ref.save_nifti(np.ascontiguousarray(ysave), y_aff, os.path.join(out, 'expected', name + '.nii.gz'))
        nodes = [{'name': 'in', 'op': 'load', 'params': {'input': 'image', 'kind': kind}}]
        case = {'name': name, 'input': src_path, 'kind': kind}
        if like is not None:
            like_path, like_kind = like
            nodes.append({'name': 'like', 'op': 'load', 'params': {'input': 'like', 'kind': like_kind}})
            case['inputs'] = {'like': like_path}
        nodes += op_nodes
        nodes.append({'name': 'out', 'op': 'save', 'params': {'path': 'out.nii.gz'},
                      'inputs': {'volume': op_nodes[-1]['name']}})
        case.update({
            'graph': {'seed': 0, 'nodes': nodes},
            'expected': f'expected/{name}.nii.gz',
            'exact': True,
            'call': call,
            'expected_shape': list(ysave.shape),
            'expected_affine': y_aff.tolist(),
            'expected_dtype': str(y.dtype),
        })
        found.append(case)

    # --- rot90: numpy.rot90(x, k, axes) on the spatial axes, every frame alike ------------
    for src, kind, k, axes in [('syn_c', 'image', 1, (0, 1)), ('syn_a', 'image', -1, (0, 2)),
                               ('lab', 'label', 3, (1, 2)), ('4d', 'image', 2, (0, 2)),
                               ('epi', 'image', 5, (2, 1))]:
        x, a = ref.read_input(out, src, kind)
        y = np.rot90(x, k, axes)
        m = _index_map(lambda v: np.rot90(v, k, axes), x.shape[:3])
        name = f'rot90_{src}_k{k}_{axes[0]}{axes[1]}'.replace('-', 'm')
        params = {'k': k, 'axes': list(axes)}
        add(name, 'inputs/' + ref.INPUT_FILES[src], kind,
            [{'name': 'op', 'op': 'rot90', 'params': params, 'inputs': {'volume': 'in'}}],
            y, a @ m,
            f'numpy.rot90(x, {k}, axes={axes})  # MONAI Rotate90(k={k}, spatial_axes={axes}) on the channel-first array')

    # --- transpose: numpy.transpose(x, axes + (3,)) ----------------------------------------
    for src, kind, axes in [('anat', 'image', (2, 0, 1)), ('lab', 'label', (1, 2, 0)),
                            ('4d', 'image', (2, 1, 0)), ('syn_d', 'image', (0, 2, 1))]:
        x, a = ref.read_input(out, src, kind)
        y = np.transpose(x, axes + (3,))
        m = _index_map(lambda v: np.transpose(v, axes), x.shape[:3])
        name = f'transpose_{src}_{"".join(map(str, axes))}'
        add(name, 'inputs/' + ref.INPUT_FILES[src], kind,
            [{'name': 'op', 'op': 'transpose', 'params': {'axes': list(axes)}, 'inputs': {'volume': 'in'}}],
            y, a @ m, f'numpy.transpose(x, {axes + (3,)})  # nnU-Net transpose_forward / batchgenerators augment_transpose_axes')

    # A chain: transpose, then rot90 (two exact index maps, one after the other).
    x, a = ref.read_input(out, 'syn_b', 'image')
    y = np.rot90(np.transpose(x, (1, 0, 2, 3)), 1, (1, 2))
    m = _index_map(lambda v: np.rot90(np.transpose(v, (1, 0, 2)), 1, (1, 2)), x.shape[:3])
    add('transpose_then_rot90_syn_b', 'inputs/' + ref.INPUT_FILES['syn_b'], 'image',
        [{'name': 't', 'op': 'transpose', 'params': {'axes': [1, 0, 2]}, 'inputs': {'volume': 'in'}},
         {'name': 'op', 'op': 'rot90', 'params': {'k': 1, 'axes': [1, 2]}, 'inputs': {'volume': 't'}}],
        y, a @ m, 'numpy.rot90(numpy.transpose(x, (1, 0, 2, 3)), 1, (1, 2))')

    # --- crop_nonzero: the bounding box of x != 0 over all frames ---------------------------
    def nonzero_box(v):
        nz = (v != 0).any(axis=3)
        first, last = [], []
        for ax in range(3):
            hit = np.nonzero(nz.any(axis=tuple(b for b in range(3) if b != ax)))[0]
            first.append(int(hit[0]))
            last.append(int(hit[-1]))
        return first, last

    def crop_box(v, first, last, margin, allow_smaller):
        """numpy slicing of the box plus margin; numpy.pad (zeros) where it leaves the volume
        (MONAI >= 1.5's allow_smaller=False), clipped with allow_smaller."""
        start = [first[i] - margin[i] for i in range(3)]
        stop = [last[i] + 1 + margin[i] for i in range(3)]
        if allow_smaller:
            start = [max(s, 0) for s in start]
            stop = [min(e, v.shape[i]) for i, e in enumerate(stop)]
        lo = [max(s, 0) for s in start]
        hi = [min(e, v.shape[i]) for i, e in enumerate(stop)]
        y = v[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        widths = [(lo[i] - start[i], stop[i] - hi[i]) for i in range(3)] + [(0, 0)]
        if any(w != (0, 0) for w in widths):
            y = np.pad(y, widths, mode='constant')
        return y, start, widths

    rng = np.random.default_rng(ref.SEED + 14)
    # Images with a zero background: a synthetic volume zeroed outside a box (and a few holes),
    # a 4D series zeroed outside a different box in each frame.
    x, a = ref.read_input(out, 'syn_c', 'image')
    masked = np.zeros_like(x)
    masked[7:30, 4:22, 11:40] = x[7:30, 4:22, 11:40]
    masked[10:12, 8:9, 20:25] = 0.0
    masked_path = os.path.join('inputs', 'spatial_masked.nii.gz')
    ref.save_nifti(masked[..., 0].astype(np.float32), a, os.path.join(out, masked_path))
    x4, a4 = ref.read_input(out, '4d', 'image')
    series = np.zeros_like(x4)
    series[20:60, 30:50, 5:12, 0] = x4[20:60, 30:50, 5:12, 0] + 1.0
    series[50:90, 10:40, 8:20, 1] = x4[50:90, 10:40, 8:20, 1] + 1.0
    series_path = os.path.join('inputs', 'spatial_series.nii.gz')
    ref.save_nifti(series.astype(np.float32), a4, os.path.join(out, series_path))
    # A label map on the masked image's grid, with a box of its own.
    lab = np.zeros(x.shape[:3], dtype=np.uint8)
    lab[12:20, 6:15, 25:33] = rng.integers(1, 4, size=(8, 9, 8), dtype=np.uint8)
    lab_path = os.path.join('inputs', 'spatial_labels_on_masked.nii.gz')
    ref.save_nifti(lab, a, os.path.join(out, lab_path))

    masked_x, masked_a = masked, a
    lab_x = lab[..., None]
    x_lab, a_lab = ref.read_input(out, 'lab', 'label')
    specs = [
        # name, input path, kind, x, affine, params, box source (x of like), like (path, kind)
        ('crop_nonzero_masked', masked_path, 'image', masked_x, masked_a, {}, masked_x, None),
        ('crop_nonzero_masked_margin_213', masked_path, 'image', masked_x, masked_a,
         {'margin': [2, 1, 3]}, masked_x, None),
        ('crop_nonzero_masked_margin_9_padded', masked_path, 'image', masked_x, masked_a,
         {'margin': 9}, masked_x, None),
        ('crop_nonzero_masked_margin_9_allow_smaller', masked_path, 'image', masked_x, masked_a,
         {'margin': 9, 'allow_smaller': True}, masked_x, None),
        ('crop_nonzero_series_frames_union', series_path, 'image', series, a4, {'margin': 1}, series, None),
        ('crop_nonzero_syn_labels', 'inputs/' + ref.INPUT_FILES['lab'], 'label', x_lab, a_lab, {}, x_lab, None),
        # The image cropped to its label map's box, and the label map to the image's box.
        ('crop_nonzero_image_to_like_labels', masked_path, 'image', masked_x, masked_a, {'margin': 2}, lab_x,
         (lab_path, 'label')),
        ('crop_nonzero_labels_to_like_image', lab_path, 'label', lab_x, masked_a, {}, masked_x,
         (masked_path, 'image')),
    ]
    for name, path, kind, v, aff, params, box_of, like in specs:
        first, last = nonzero_box(box_of)
        margin = params.get('margin', 0)
        margin = [margin] * 3 if isinstance(margin, int) else margin
        allow = params.get('allow_smaller', False)
        y, start, widths = crop_box(v, first, last, margin, allow)
        y_aff = aff @ ref.translation(start)
        inputs = {'volume': 'in'} if like is None else {'volume': 'in', 'like': 'like'}
        src = 'x' if like is None else 'like'
        slicer = ', '.join(f'{start[i]}:{start[i] + y.shape[i]}' for i in range(3))
        call = (f"box of numpy.nonzero(({src} != 0).any(axis=3)) = {first}..{last}; y = x[{slicer}] "
                f"(numpy.pad {widths} with zeros outside)  # nnU-Net crop_to_nonzero bbox; MONAI "
                f"CropForeground(select_fn=lambda x: x != 0, margin={margin}, allow_smaller={allow})")
        add(name, path, kind,
            [{'name': 'op', 'op': 'crop_nonzero', 'params': params, 'inputs': inputs}],
            y, y_aff, call, like=like)
    return found

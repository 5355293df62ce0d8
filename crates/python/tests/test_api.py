"""The Python API: volumes, graphs, runs in memory, draws, ops, errors."""

import json
import subprocess
import threading

import numpy as np
import pytest

import voxflow
from conftest import EPI, GRAPHS, LABELS, T1


def small_graph(**save_params):
    """load -> random_flip (applied to image and label) -> save, on any inputs."""
    return {
        "seed": 7,
        "nodes": [
            {"name": "image", "op": "load"},
            {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
            {"name": "flip", "op": "random_flip", "params": {"axes": [0, 1, 2], "one_axis": True, "p": 1.0}},
            {"name": "rot", "op": "random_rotate", "params": {"degrees": [-20, 20]}},
            {"name": "image_f", "op": "apply", "inputs": {"volume": "image", "draw": "flip"}},
            {"name": "label_f", "op": "apply", "inputs": {"volume": "label", "draw": "flip"}},
            {"name": "image_r", "op": "apply", "inputs": {"volume": "image_f", "draw": "rot"}},
            {"name": "label_r", "op": "apply", "inputs": {"volume": "label_f", "draw": "rot"}},
            {"name": "save_image", "op": "save", "params": {"path": "{case}_image_{output}.nii", **save_params},
             "inputs": {"volume": "image_r"}},
            {"name": "save_label", "op": "save", "params": {"path": "{case}_label_{output}.nii"},
             "inputs": {"volume": "label_r"}},
        ],
    }


def synthetic(shape=(20, 24, 16), label_dtype=np.int16, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(100, 20, size=shape).astype(np.float32)
    label = np.zeros(shape, dtype=label_dtype)
    label[5:15, 6:18, 4:12] = 3
    label[8:12, 9:15, 6:10] = -2 if np.issubdtype(label_dtype, np.signedinteger) else 7
    affine = np.array([[0.9, 0.1, 0, -10], [-0.1, 1.1, 0.05, 4], [0, 0.02, 2.0, 30], [0, 0, 0, 1]])
    return voxflow.Volume(image, affine), voxflow.Volume(label, affine, kind="label")


# --- volumes ---------------------------------------------------------------------------------


def test_read_matches_nibabel():
    nib = pytest.importorskip("nibabel")
    for path in (T1, EPI):
        vol = voxflow.read(path)
        ref = nib.load(str(path))
        assert vol.kind == "image" and vol.dtype == np.float32
        assert vol.shape == ref.shape
        np.testing.assert_array_equal(vol.array, ref.get_fdata(dtype=np.float32))
        np.testing.assert_allclose(vol.affine, ref.affine, atol=1e-6)
        assert vol.spacing == pytest.approx(tuple(ref.header.get_zooms()[:3]), abs=1e-5)


def test_read_label_keeps_its_dtype():
    vol = voxflow.read(LABELS, kind="label")
    assert vol.kind == "label"
    assert vol.dtype == np.uint8
    assert set(np.unique(vol.array)) <= set(range(256))


def test_array_is_not_copied_on_the_way_out():
    vol = voxflow.read(EPI)
    # voxflow's Fortran-order buffer is handed to numpy as is.
    assert vol.array.flags["F_CONTIGUOUS"]
    assert vol.array.base is not None


def test_save_round_trip(tmp_path):
    image, label = synthetic()
    image.save(tmp_path / "i.nii.gz")
    label.save(tmp_path / "l.nii")
    back = voxflow.read(tmp_path / "i.nii.gz")
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine, image.affine, atol=1e-6)  # NIfTI-1 stores float32
    back_label = voxflow.read(tmp_path / "l.nii", kind="label")
    assert back_label.dtype == np.int16
    np.testing.assert_array_equal(back_label.array, label.array)


def test_nibabel_interop(tmp_path):
    nib = pytest.importorskip("nibabel")
    image, label = synthetic()
    img = image.to_nibabel()
    assert isinstance(img, nib.Nifti1Image)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), image.array)
    again = voxflow.Volume.from_nibabel(img)
    np.testing.assert_array_equal(again.array, image.array)
    lab = voxflow.Volume.from_nibabel(nib.Nifti1Image(label.array, label.affine), kind="label")
    assert lab.dtype == np.int16 and lab.kind == "label"


def test_volume_checks_its_inputs():
    with pytest.raises(ValueError, match="integer dtype"):
        voxflow.Volume(np.zeros((4, 4, 4), np.float32), kind="label")
    with pytest.raises(ValueError, match="3D"):
        voxflow.Volume(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="4x4"):
        voxflow.Volume(np.zeros((4, 4, 4)), np.eye(3))
    with pytest.raises(ValueError, match="kind"):
        voxflow.Volume(np.zeros((4, 4, 4)), kind="mask")


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(voxflow.NiftiError, match="missing.nii"):
        voxflow.read(tmp_path / "missing.nii")
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"not a nifti file at all" * 20)
    with pytest.raises(voxflow.NiftiError, match="bad.nii"):
        voxflow.read(bad)


# --- graphs ----------------------------------------------------------------------------------


def test_graph_from_path_text_and_dict_are_one_graph():
    path = GRAPHS / "flip.json"
    a = voxflow.Graph(path)
    b = voxflow.Graph(path.read_text())
    c = voxflow.Graph(json.loads(path.read_text()))
    assert a.hash == b.hash == c.hash
    assert a.inputs == {"image": "image", "label": "label"}
    assert a.saves == ["save_image", "save_label"]
    assert a.seed == 2 and a.outputs == 2
    assert a.dataset["inputs"]["image"].endswith("mni152_t1.nii.gz")


@pytest.mark.parametrize(
    "nodes, expected",
    [
        ([{"name": "a", "op": "lod"}], "node `a`: unknown op `lod`; did you mean `load`?"),
        ([{"name": "f", "op": "random_flip", "params": {"p": 2}}], "node `f` (op `random_flip`): parameter `p`: a probability must be in [0, 1]"),
        ([{"name": "f", "op": "random_flip", "params": {"axes": [0], "bogus": 1}}], "bogus"),
        ([{"name": "s", "op": "save", "params": {"path": "../x.nii"}}], "parameter `path`: must be relative"),
        ([{"name": "s", "op": "save", "params": {"path": "x.nii"}, "inputs": {"volume": "nope"}}], "`nope`"),
    ],
)
def test_graph_errors_match_graphrun_validate(tmp_path, graphrun, nodes, expected):
    spec = {"nodes": nodes}
    with pytest.raises(voxflow.GraphError) as err:
        voxflow.Graph(spec)
    assert expected in str(err.value)
    # The same message as `graphrun validate`.
    path = tmp_path / "g.json"
    path.write_text(json.dumps(spec))
    cli = subprocess.run([graphrun, "validate", str(path)], capture_output=True, text=True)
    assert cli.returncode != 0
    assert str(err.value) in cli.stderr


def test_intensity_draw_on_a_label_is_rejected():
    spec = {
        "nodes": [
            {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
            {"name": "gamma", "op": "random_gamma"},
            {"name": "out", "op": "apply", "inputs": {"volume": "label", "draw": "gamma"}},
        ]
    }
    with pytest.raises(voxflow.GraphError, match="node `out`") as err:
        voxflow.Graph(spec)
    assert "label" in str(err.value)


def test_run_in_memory_keeps_label_dtypes_and_values():
    for dtype in (np.uint8, np.int16, np.uint16, np.int32, np.int64):
        image, label = synthetic(label_dtype=dtype)
        out = voxflow.Graph(small_graph()).run({"image": image, "label": label}, case="c", output=3)
        assert set(out) == {"save_image", "save_label"}
        lab = out["save_label"]
        assert lab.kind == "label" and lab.dtype == dtype
        assert set(np.unique(lab.array)) <= set(np.unique(label.array))
        assert out["save_image"].dtype == np.float32
        np.testing.assert_allclose(out["save_image"].affine, image.affine)


def test_given_volumes_equal_given_files(tmp_path):
    image, label = synthetic()
    image.save(tmp_path / "i.nii")
    label.save(tmp_path / "l.nii")
    g = voxflow.Graph(small_graph())
    from_files = g.run({"image": tmp_path / "i.nii", "label": tmp_path / "l.nii"}, case="c", output=1)
    # Files store the affine in float32: give the volumes that same affine.
    read_back = {"image": voxflow.read(tmp_path / "i.nii"), "label": voxflow.read(tmp_path / "l.nii", kind="label")}
    from_memory = g.run(read_back, case="c", output=1)
    for name in from_files:
        np.testing.assert_array_equal(from_files[name].array, from_memory[name].array)


def test_draws_depend_on_seed_case_and_output_only():
    g = voxflow.Graph(small_graph())
    d = g.draws("c", 5)
    assert set(d) == {"flip", "rot"}
    assert g.draws("c", 5) == d
    assert g.draws("c", 6) != d or g.draws("d", 5) != d
    assert g.draws("c", 5, seed=8) != d
    image, label = synthetic()
    _, with_run = g.run_with_draws({"image": image, "label": label}, case="c", output=5)
    assert with_run == d


def test_draws_that_read_a_volume_need_inputs(tutorial_inputs):
    g = voxflow.Graph(GRAPHS / "tutorial.json")
    with pytest.raises(voxflow.RunError, match="input `image`"):
        g.draws("mni152", 0)
    assert "crop" in g.draws("mni152", 0, inputs=tutorial_inputs)


def test_any_node_can_be_returned_and_only_what_it_needs_runs():
    image, label = synthetic()
    g = voxflow.Graph(small_graph())
    out = g.run({"image": image}, case="c", nodes=["image_f"])  # no label needed
    assert list(out) == ["image_f"]
    assert out["image_f"].shape == image.shape
    with pytest.raises(ValueError, match="did you mean `image_f`"):
        g.run({"image": image}, nodes=["image_ff"])


def test_run_errors_name_case_output_and_node():
    image, _ = synthetic()
    g = voxflow.Graph(small_graph())
    with pytest.raises(voxflow.RunError, match=r"case `c`, output 2, node `label`.*no input `label`"):
        g.run({"image": image}, case="c", output=2)
    with pytest.raises(voxflow.RunError, match="label map"):
        g.run({"image": image, "label": image}, case="c")
    with pytest.raises(ValueError, match="case"):
        g.run({"image": image}, case="../escape")


def test_grids_must_match():
    image, label = synthetic()
    other = voxflow.Volume(label.array[:-2], label.affine, kind="label")
    with pytest.raises(voxflow.RunError, match="another grid"):
        voxflow.Graph(small_graph()).run({"image": image, "label": other})


def test_thread_count_does_not_change_the_bytes(tutorial_inputs):
    g = voxflow.Graph(GRAPHS / "tutorial.json")
    one = g.run(tutorial_inputs, case="mni152", output=1, threads=1)
    two = g.run(tutorial_inputs, case="mni152", output=1, threads=2)
    for name in one:
        assert one[name].array.tobytes() == two[name].array.tobytes()


def test_gil_is_released_while_a_graph_runs(tutorial_inputs):
    g = voxflow.Graph(GRAPHS / "tutorial.json")
    ticks = []
    running = threading.Event()
    done = threading.Event()

    def tick():
        running.set()
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=tick)
    t.start()
    running.wait()
    before = len(ticks)
    g.run(tutorial_inputs, case="mni152", output=0)
    during = len(ticks) - before
    done.set()
    t.join()
    # The tutorial takes ~0.2 s; with the GIL held the ticking thread could not run at all.
    assert during > 5


def test_write_to_writes_what_graphrun_would(tmp_path):
    image, label = synthetic()
    g = voxflow.Graph(small_graph())
    out = g.run({"image": image, "label": label}, case="c", output=0, write_to=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c_image_0.nii", "c_label_0.nii"]
    np.testing.assert_array_equal(voxflow.read(tmp_path / "c_image_0.nii").array, out["save_image"].array)


def test_ops_lists_every_op_with_parameters():
    ops = {o["name"]: o for o in voxflow.ops()}
    assert {"load", "save", "random_flip", "resize", "one_hot", "random_elastic"} <= set(ops)
    params = {p["name"]: p for p in ops["random_flip"]["params"]}
    assert "p" in params and params["p"]["description"]
    assert voxflow.schema()["properties"]["nodes"]


def test_preview_is_a_png(tmp_path):
    image = voxflow.read(T1)
    label = voxflow.read(LABELS, kind="label")
    png = voxflow.preview(image, label, path=tmp_path / "p.png", title="mni152")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "p.png").read_bytes() == png
    with pytest.raises(ValueError, match="kind 'label'"):
        voxflow.preview(image, image)


def test_a_volume_input_is_converted_once_and_kept_consistent():
    import pickle

    image, label = synthetic()
    g = voxflow.Graph(small_graph())
    first = g.run({"image": image, "label": label}, case="c")
    # The voxels were taken once; the arrays cannot be changed behind the kept copy's back.
    with pytest.raises(ValueError):
        image.array[0, 0, 0] = 1.0
    assert g.run({"image": image, "label": label}, case="c")["save_image"].array.tobytes() == (
        first["save_image"].array.tobytes()
    )
    # Assigning a new array is how voxels change, and the next run sees it.
    image.array = image.array * 2
    doubled = g.run({"image": image, "label": label}, case="c")["save_image"].array
    np.testing.assert_allclose(doubled, first["save_image"].array * 2, rtol=1e-5, atol=1e-3)
    again = pickle.loads(pickle.dumps(image))
    np.testing.assert_array_equal(again.array, image.array)
    np.testing.assert_array_equal(
        g.run({"image": again, "label": label}, case="c")["save_image"].array, doubled
    )

"""GraphDataset: determinism across processes (fork and spawn), epochs, no leak."""

import multiprocessing as mp
import os

import numpy as np
import pytest

import voxflow
from voxflow.torch import GraphDataset, normalize_cases
from conftest import EPI, GRAPHS, LABELS, T1

GRAPH = {
    "seed": 11,
    "nodes": [
        {"name": "image", "op": "load"},
        {"name": "rot", "op": "random_rotate", "params": {"degrees": [-30, 30]}},
        {"name": "noise", "op": "random_noise", "params": {"std": [0.0, 50.0], "p": 1.0}},
        {"name": "image_r", "op": "apply", "inputs": {"volume": "image", "draw": "rot"}},
        {"name": "image_n", "op": "apply", "inputs": {"volume": "image_r", "draw": "noise"}},
        {"name": "save_image", "op": "save", "params": {"path": "{case}_{output}.nii"}, "inputs": {"volume": "image_n"}},
    ],
}
CASES = [{"id": f"case{i}", "inputs": {"image": str(EPI)}} for i in range(3)]


def digest(sample):
    return (sample["case"], sample["output"], np.asarray(sample["save_image"]).tobytes())


def _worker(args):
    indices, epoch = args
    ds = GraphDataset(CASES, GRAPH, outputs_per_epoch=2, as_tensors=False)
    ds.set_epoch(epoch)
    return [digest(ds[i]) for i in indices]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_two_worker_processes_give_the_same_samples(method):
    ds = GraphDataset(CASES, GRAPH, outputs_per_epoch=2, as_tensors=False)
    ds.set_epoch(1)
    expected = [digest(ds[i]) for i in range(len(ds))]
    # Interleaved and reversed across two processes, as a shuffling sampler would do.
    chunks = [([5, 3, 1], 1), ([4, 2, 0], 1)]
    with mp.get_context(method).Pool(2) as pool:
        got = pool.map(_worker, chunks)
    by_index = dict(zip([5, 3, 1, 4, 2, 0], got[0] + got[1]))
    assert [by_index[i] for i in range(len(ds))] == expected


def test_fork_after_the_parent_ran_does_not_hang():
    # The parent's thread pool does not exist in a forked child: the child makes its own.
    ds = GraphDataset(CASES, GRAPH, as_tensors=False, threads=2)
    parent = digest(ds[0])
    with mp.get_context("fork").Pool(1) as pool:
        child = pool.apply(_first_sample_two_threads)
    assert child == parent


def _first_sample_two_threads():
    return digest(GraphDataset(CASES, GRAPH, as_tensors=False, threads=2)[0])


def test_epochs_and_outputs_map_to_graphrun_output_indices():
    ds = GraphDataset(CASES, GRAPH, outputs_per_epoch=2, as_tensors=False)
    assert len(ds) == 6
    assert ds.index(0) == ("case0", 0) and ds.index(3) == ("case1", 1)
    ds.set_epoch(3)
    assert ds.index(3) == ("case1", 7)
    sample = ds[3]
    direct = voxflow.Graph(GRAPH).run({"image": EPI}, case="case1", output=7)
    np.testing.assert_array_equal(sample["save_image"], direct["save_image"].array)
    np.testing.assert_array_equal(sample["save_image_affine"], direct["save_image"].affine)
    ds.set_epoch(4)
    assert digest(ds[3]) != digest(sample)


def test_cases_forms_and_checks():
    assert normalize_cases({"a": {"image": "x"}}) == [{"id": "a", "inputs": {"image": "x"}}]
    assert normalize_cases([("a", {"image": "x"})])[0]["id"] == "a"
    with pytest.raises(ValueError, match="unique"):
        normalize_cases([("a", {"image": "x"}), ("a", {"image": "y"})])
    with pytest.raises(ValueError, match="no input 'label'"):
        GraphDataset([("a", {"image": str(T1)})], GRAPHS / "tutorial.json")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_across_1000_runs():
    image = voxflow.Volume(np.random.default_rng(0).normal(size=(32, 32, 32)).astype(np.float32), np.eye(4))
    g = voxflow.Graph(GRAPH)
    for i in range(100):  # warm up allocators and pools
        g.run({"image": image}, case="c", output=i)
    before = rss_bytes()
    for i in range(1000):
        g.run({"image": image}, case="c", output=i)
    grown = rss_bytes() - before
    # One run allocates ~1 MB of volumes; a leak of one volume per run would be ~130 MB.
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 1000 runs"


def test_tensors_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    ds = GraphDataset([("mni152", {"image": str(T1), "label": str(LABELS)})], GRAPHS / "tutorial.json")
    sample = ds[0]
    assert isinstance(sample["save_image"], torch.Tensor) and sample["save_image"].dtype == torch.float32
    assert sample["save_label"].dtype == torch.uint8
    assert tuple(sample["save_image_affine"].shape) == (4, 4)
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2)
    batch = next(iter(loader))
    assert torch.equal(batch["save_image"][0], sample["save_image"])


def test_cached_inputs_give_the_same_samples():
    plain = GraphDataset(CASES, GRAPH, outputs_per_epoch=2, as_tensors=False)
    cached = GraphDataset(CASES, GRAPH, outputs_per_epoch=2, as_tensors=False, cache_inputs=True)
    for i in range(len(plain)):
        assert digest(plain[i]) == digest(cached[i])
    assert set(cached._cache) == {"case0", "case1", "case2"}
    import pickle

    assert pickle.loads(pickle.dumps(cached))._cache == {}

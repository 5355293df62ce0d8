"""voxflow graphs as a PyTorch ``Dataset``: a fresh draw per sample and epoch, no files.

    from torch.utils.data import DataLoader
    from voxflow.torch import GraphDataset

    ds = GraphDataset(cases, "graphs/tutorial.json", outputs_per_epoch=2)
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=True)
    for epoch in range(10):
        ds.set_epoch(epoch)                  # before the loader's iterator starts
        for batch in loader:
            image, label = batch["save_image"], batch["save_label"]

Sample ``i`` of epoch ``e`` is case ``cases[i // K]``, output index ``e * K + i % K`` (``K`` =
``outputs_per_epoch``), and its draws depend only on (graph seed, case id, output index): the
same tensors whatever the number of workers, fork or spawn, the order of the sampler, or a
restart. Output index ``n`` equals ``graphrun``'s output ``n`` of that case.

Works without torch installed: samples then hold numpy arrays (``as_tensors=False`` asks for
that explicitly).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import Graph, Volume, read

try:  # torch is optional: the dataset works without it (numpy samples).
    import torch as _torch
    from torch.utils.data import Dataset as _Base
except ImportError:  # pragma: no cover - exercised where torch is absent
    _torch = None
    _Base = object

__all__ = ["GraphDataset", "normalize_cases"]


def normalize_cases(cases: Any) -> List[Dict[str, Any]]:
    """Cases as a list of ``{"id": str, "inputs": {name: path or Volume}}``.

    Accepts that form, ``(id, inputs)`` pairs, or a mapping of id to inputs.
    """
    if isinstance(cases, Mapping):
        cases = list(cases.items())
    out = []
    for i, case in enumerate(cases):
        if isinstance(case, Mapping):
            if "id" not in case or "inputs" not in case:
                raise ValueError(f"case {i} needs an `id` and `inputs`")
            case_id, inputs = case["id"], case["inputs"]
        else:
            case_id, inputs = case
        if not isinstance(inputs, Mapping) or not inputs:
            raise ValueError(f"case {case_id!r}: `inputs` must map input names to paths or Volumes")
        out.append({"id": str(case_id), "inputs": dict(inputs)})
    ids = [c["id"] for c in out]
    if len(set(ids)) != len(ids):
        raise ValueError("case ids must be unique (draws are seeded by them)")
    return out


class GraphDataset(_Base):
    """A map-style dataset running a voxflow graph per sample.

    ``cases``: see :func:`normalize_cases`. ``graph``: a :class:`voxflow.Graph`, a path, JSON
    text or a dict. ``nodes``: the nodes returned (default: the graph's ``save`` nodes).
    ``threads``: Rust threads per sample; default 1 inside a DataLoader worker (so N workers
    use N cores, not N x cores), all cores in the main process. ``seed``: overrides the graph's.

    ``cache_inputs``: read each case's files once per process (each DataLoader worker keeps
    its own copy) instead of once per sample; memory grows with the number of cases.

    A sample is a dict: each node's array (a tensor, or numpy without torch), ``"<node>_affine"``
    (4x4 float64), ``"case"`` and ``"output"``.
    """

    def __init__(
        self,
        cases: Any,
        graph: Union[Graph, str, "os.PathLike[str]", Mapping[str, Any]],
        outputs_per_epoch: int = 1,
        seed: Optional[int] = None,
        threads: Optional[int] = None,
        nodes: Optional[Sequence[str]] = None,
        epoch: int = 0,
        as_tensors: Optional[bool] = None,
        cache_inputs: bool = False,
    ) -> None:
        self.cases = normalize_cases(cases)
        self.graph = graph if isinstance(graph, Graph) else Graph(graph)
        if int(outputs_per_epoch) < 1:
            raise ValueError("outputs_per_epoch must be at least 1")
        self.outputs_per_epoch = int(outputs_per_epoch)
        self.seed = seed
        self.threads = threads
        self.nodes = list(nodes) if nodes is not None else None
        self.epoch = int(epoch)
        self.cache_inputs = bool(cache_inputs)
        self._cache: Dict[str, Dict[str, Any]] = {}
        if as_tensors and _torch is None:
            raise ImportError("as_tensors=True needs torch (pip install torch)")
        self.as_tensors = (_torch is not None) if as_tensors is None else bool(as_tensors)
        missing = [
            (c["id"], name) for c in self.cases for name in self.graph.inputs if name not in c["inputs"]
        ]
        if missing:
            case_id, name = missing[0]
            raise ValueError(
                f"case {case_id!r} has no input {name!r} (the graph loads {sorted(self.graph.inputs)})"
            )

    def set_epoch(self, epoch: int) -> None:
        """Selects the outputs of epoch ``epoch`` (call it before the DataLoader's iterator
        starts, so that workers get it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.cases) * self.outputs_per_epoch

    def index(self, i: int) -> tuple:
        """(case id, output index) of sample ``i`` in the current epoch."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} of {len(self)}")
        i %= len(self)
        case = self.cases[i // self.outputs_per_epoch]
        return case["id"], self.epoch * self.outputs_per_epoch + i % self.outputs_per_epoch

    def _inputs(self, i: int) -> Dict[str, Any]:
        case = self.cases[i % len(self) // self.outputs_per_epoch]
        if not self.cache_inputs:
            return case["inputs"]
        cached = self._cache.get(case["id"])
        if cached is None:
            kinds = self.graph.inputs
            cached = {
                name: v if isinstance(v, Volume) else read(v, kind=kinds.get(name, "image"))
                for name, v in case["inputs"].items()
            }
            self._cache[case["id"]] = cached
        return cached

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = {}  # each process reads its own
        return state

    def _threads(self) -> int:
        if self.threads is not None:
            return int(self.threads)
        if _torch is not None and _torch.utils.data.get_worker_info() is not None:
            return 1
        return os.cpu_count() or 1

    def __getitem__(self, i: int) -> Dict[str, Any]:
        case_id, output = self.index(i)
        sample: Dict[str, Any] = {"case": case_id, "output": output}
        for name, volume in self.volumes(i).items():
            sample[name] = self._convert(volume.array)
            sample[f"{name}_affine"] = self._convert(volume.affine)
        return sample

    def _convert(self, array: Any) -> Any:
        # torch.from_numpy shares the memory (no copy), strides and all.
        return _torch.from_numpy(array) if self.as_tensors else array

    def volumes(self, i: int) -> Dict[str, Volume]:
        """Sample ``i`` as :class:`voxflow.Volume` objects (array, affine, kind)."""
        case_id, output = self.index(i)
        inputs = self._inputs(i)
        return self.graph.run(
            inputs, case=case_id, output=output, seed=self.seed, nodes=self.nodes, threads=self._threads()
        )


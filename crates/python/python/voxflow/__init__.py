"""voxflow from Python: read volumes, run voxflow's JSON graphs in memory, feed PyTorch.

The graphs are the very ones ``graphrun`` runs over datasets, run by the same Rust executor with
the same seeding: ``Graph.run(inputs, case, output)`` returns, in memory, what ``graphrun``
writes for that case and output index.

    >>> import voxflow
    >>> g = voxflow.Graph("graphs/tutorial.json")
    >>> out = g.run({"image": "data/mni152_t1.nii.gz", "label": "data/mni152_tissue_labels.nii.gz"},
    ...             case="mni152", output=0)
    >>> out["save_image"].array.shape, out["save_label"].array.dtype
    ((112, 112, 112), dtype('uint8'))

Arrays are ``[x, y, z]`` (or ``[x, y, z, t]``) in voxel order, as nibabel's ``get_fdata()``
gives them; the affine maps voxel indices to world millimetres (RAS+), as in NIfTI.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import numpy as np

from . import _voxflow
from ._voxflow import GraphError, NiftiError, RunError, VoxflowError

__all__ = [
    "Volume",
    "Graph",
    "read",
    "ops",
    "schema",
    "preview",
    "VoxflowError",
    "GraphError",
    "RunError",
    "NiftiError",
    "__version__",
]

__version__ = _voxflow.__version__

PathLike = Union[str, "os.PathLike[str]"]

#: The integer types a label map can have (its dtype is kept through every op).
LABEL_DTYPES = tuple(
    np.dtype(d) for d in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64")
)


class Volume:
    """Voxels plus the affine that puts them in the world.

    ``array``: ``[x, y, z]`` or ``[x, y, z, t]``; float32 for an image, an integer type for a
    label map (``kind="label"``, whose values no op ever interpolates). ``affine``: 4x4 float64,
    voxel index to world mm (RAS+).
    """

    __slots__ = ("_array", "_affine", "kind", "_handle")

    def __init__(self, array: Any, affine: Any = None, kind: str = "image") -> None:
        if kind not in ("image", "label"):
            raise ValueError(f'kind must be "image" or "label", not {kind!r}')
        self.kind = kind
        self._array = self._checked_array(array)
        self._affine = _checked_affine(affine)
        self._handle = None

    def _checked_array(self, array: Any) -> np.ndarray:
        """``array`` as this volume's kind holds it: float32 for an image, an integer type for
        a label map; 3D or 4D."""
        array = np.asarray(array)
        if self.kind == "image":
            if array.dtype != np.float32:
                array = array.astype(np.float32)
        else:
            if array.dtype == np.bool_:
                array = array.astype(np.uint8)
            if array.dtype not in LABEL_DTYPES:
                raise ValueError(
                    "a label map needs an integer dtype "
                    f"({', '.join(d.name for d in LABEL_DTYPES)}), not {array.dtype}"
                )
        if array.ndim not in (3, 4):
            raise ValueError(f"a volume's array must be 3D [x, y, z] or 4D [x, y, z, t], not {array.ndim}D")
        return array

    # The first time a volume is a graph input its voxels are copied once into voxflow's layout
    # and kept (later runs copy nothing); the arrays are made read-only then, so that the kept
    # copy cannot silently differ from them. Assign a new array to change the voxels.
    @property
    def array(self) -> np.ndarray:
        return self._array

    @array.setter
    def array(self, value: Any) -> None:
        self._array = self._checked_array(value)
        self._handle = None

    @property
    def affine(self) -> np.ndarray:
        return self._affine

    @affine.setter
    def affine(self, value: Any) -> None:
        self._affine = _checked_affine(value)
        self._handle = None

    # Picklable (DataLoader workers started with spawn get a copy); the kept copy is not sent.
    def __getstate__(self) -> dict:
        return {"array": self._array, "affine": self._affine, "kind": self.kind}

    def __setstate__(self, state: dict) -> None:
        self._array, self._affine, self.kind, self._handle = state["array"], state["affine"], state["kind"], None

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def spacing(self) -> tuple:
        """Voxel spacing in mm: the lengths of the affine's first three columns."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    def save(self, path: PathLike, dtype: Optional[str] = None, gzip_level: int = 1) -> None:
        """Writes a NIfTI file (``.nii`` or ``.nii.gz``), atomically.

        ``dtype`` is the stored type of an image (``"uint8"``, ``"int16"``, ``"float32"``, ...;
        default float32); a label map keeps its integer type.
        """
        _voxflow.write(os.fspath(path), self.array, self.affine, self.kind, dtype, gzip_level)

    @classmethod
    def from_nibabel(cls, img: Any, kind: str = "image") -> "Volume":
        """From a nibabel image: ``get_fdata()`` as float32 for an image, the stored integer
        data (``np.asanyarray(img.dataobj)``) for a label map; ``img.affine``."""
        if kind == "label":
            data = np.asanyarray(img.dataobj)
            if data.dtype.kind == "f":
                rounded = np.rint(data)
                if not np.array_equal(rounded, data):
                    raise ValueError("the image has non-integer values: it is not a label map")
                data = rounded.astype(np.int32)
            return cls(data, img.affine, kind="label")
        return cls(img.get_fdata(dtype=np.float32), img.affine, kind="image")

    def to_nibabel(self) -> Any:
        """A ``nibabel.Nifti1Image`` of the same voxels and affine (needs nibabel)."""
        import nibabel

        return nibabel.Nifti1Image(self.array, self.affine)

    def _native(self) -> tuple:
        return (self._array, self._affine, self.kind)

    def _input(self) -> Any:
        """This volume as a graph input: converted once, then shared."""
        if self._handle is None:
            self._handle = _voxflow._VolumeHandle(self._array, self._affine, self.kind)
            for a in (self._array, self._affine):
                if a.flags.writeable:
                    a.flags.writeable = False
        return self._handle

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:.3g}" for s in self.spacing)
        return f"Volume(kind={self.kind!r}, shape={self.shape}, dtype={self.dtype}, spacing=({spacing}))"


def _checked_affine(affine: Any) -> np.ndarray:
    """A 4x4 float64 affine (the identity when ``None``)."""
    affine = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"the affine must be 4x4, not {affine.shape}")
    return affine


def _given(inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """Graph inputs for the native module: a path as text, a Volume as its kept copy."""
    return {str(k): (v._input() if isinstance(v, Volume) else os.fspath(v)) for k, v in inputs.items()}


def _volume(native: tuple) -> Volume:
    array, affine, kind = native
    volume = Volume.__new__(Volume)
    volume._array, volume._affine, volume.kind, volume._handle = array, affine, kind, None
    return volume


def read(path: PathLike, kind: str = "image") -> Volume:
    """Reads a NIfTI file (``.nii``, ``.nii.gz``, NIfTI-1 or 2) exactly as nibabel does: an
    image as float32 (scaled by ``scl_slope``/``scl_inter``), a label map in its integer type."""
    return _volume(_voxflow.read(os.fspath(path), kind))


class Graph:
    """A voxflow graph, validated on construction (a ``GraphError`` names the node and
    parameter, as ``graphrun validate`` does).

    ``source``: a path to a graph file, its JSON text, or the graph as a dict.
    """

    def __init__(self, source: Union[PathLike, str, Mapping[str, Any]]) -> None:
        path: Optional[str] = None
        if isinstance(source, Mapping):
            text = json.dumps(source)
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            text = source
        else:
            path = os.path.abspath(os.fspath(source))
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise GraphError(f"cannot read graph file {path}: {e.strerror or e}") from None
        self._graph = _voxflow._Graph(text, path)
        self.path = path
        self._text = text
        self._nodes: List[Dict[str, Any]] = json.loads(self._graph.nodes_json())

    # Picklable (DataLoader workers started with spawn get a copy): rebuilt from its text.
    def __getstate__(self) -> dict:
        return {"text": self._text, "path": self.path}

    def __setstate__(self, state: dict) -> None:
        self._text, self.path = state["text"], state["path"]
        self._graph = _voxflow._Graph(self._text, self.path)
        self._nodes = json.loads(self._graph.nodes_json())

    @property
    def seed(self) -> int:
        return self._graph.seed

    @property
    def last_run_seconds(self) -> float:
        """Seconds the last ``run`` spent in Rust with the GIL released (the rest of the call
        is the binding's overhead: converting inputs and results)."""
        return self._graph.last_run_seconds

    @property
    def outputs(self) -> int:
        """Outputs per case the file asks for (``graphrun``'s default)."""
        return self._graph.outputs

    @property
    def hash(self) -> str:
        """The graph's hash, as manifests record it."""
        return self._graph.hash

    @property
    def nodes(self) -> List[Dict[str, Any]]:
        """Every node: name, op, kind, dtype, channels and inputs (port to node name)."""
        return [dict(n) for n in self._nodes]

    @property
    def inputs(self) -> Dict[str, str]:
        """The case inputs the ``load`` nodes read: input name to kind (``image``/``label``)."""
        return {n["load_input"]: n["kind"] for n in self._nodes if n["load_input"] is not None}

    @property
    def saves(self) -> List[str]:
        """The names of the ``save`` nodes (what ``run`` returns by default)."""
        return [n["name"] for n in self._nodes if n["save_path"] is not None]

    @property
    def dataset(self) -> Optional[Dict[str, Any]]:
        """The default dataset the file carries, paths resolved against the file's folder."""
        text = self._graph.dataset_json()
        if text is None:
            return None
        dataset = json.loads(text)
        base = os.path.dirname(self.path) if self.path else os.getcwd()
        dataset["inputs"] = {k: os.path.join(base, v) for k, v in dataset["inputs"].items()}
        return dataset

    def run(
        self,
        inputs: Mapping[str, Union[PathLike, Volume]],
        case: str = "case",
        output: int = 0,
        seed: Optional[int] = None,
        nodes: Optional[Iterable[str]] = None,
        threads: int = 1,
        write_to: Optional[PathLike] = None,
    ) -> Dict[str, Volume]:
        """Runs one output of one case, in memory.

        ``inputs`` maps each ``load`` input name (``image``, ``label``, ...) to a path or a
        ``Volume``. The draws depend only on (``seed`` or the graph's, ``case``, ``output``),
        so the result equals what ``graphrun`` writes for that case and output index. Returns
        each ``save`` node's volume by node name (or those of ``nodes``: any node names; only
        what they need runs). Nothing is written unless ``write_to`` names a folder, where the
        ``save`` nodes then write their files as ``graphrun -o write_to`` would.

        ``threads``: Rust threads for this call (1 by default, right inside DataLoader
        workers). The GIL is released while the graph runs.
        """
        native, _ = self._run(inputs, case, output, seed, nodes, threads, write_to)
        return {name: _volume(v) for name, v in native.items()}

    def run_with_draws(
        self,
        inputs: Mapping[str, Union[PathLike, Volume]],
        case: str = "case",
        output: int = 0,
        seed: Optional[int] = None,
        nodes: Optional[Iterable[str]] = None,
        threads: int = 1,
    ) -> tuple:
        """``run``, and the draws it made (as ``draws`` returns them)."""
        native, draws = self._run(inputs, case, output, seed, nodes, threads, None)
        return {name: _volume(v) for name, v in native.items()}, json.loads(draws)

    def _run(self, inputs, case, output, seed, nodes, threads, write_to):
        if int(threads) < 1:
            raise ValueError("threads must be at least 1")
        return self._graph.run(
            _given(inputs),
            str(case),
            int(output),
            seed=None if seed is None else int(seed),
            nodes=None if nodes is None else [str(n) for n in nodes],
            threads=int(threads),
            write_to=None if write_to is None else os.fspath(write_to),
        )

    def draws(
        self,
        case: str = "case",
        output: int = 0,
        seed: Optional[int] = None,
        inputs: Optional[Mapping[str, Union[PathLike, Volume]]] = None,
    ) -> Dict[str, Any]:
        """The drawn parameters of one (case, output), by node name, as the manifest records
        them. Only the random nodes run; ``inputs`` are needed only when a draw reads a volume
        (e.g. a crop drawn within the image's grid)."""
        given = None if inputs is None else _given(inputs)
        return json.loads(
            self._graph.draws(str(case), int(output), seed=None if seed is None else int(seed), inputs=given)
        )

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"Graph({len(self._nodes)} nodes{where}, seed={self.seed}, hash={self.hash})"


def ops() -> List[Dict[str, Any]]:
    """Every op: name, summary, parameters (type, allowed values, default, doc), ports and an
    example (what ``graphrun ops`` shows)."""
    return json.loads(_voxflow.ops_json())


def preview(
    image: Volume, label: Optional[Volume] = None, path: Optional[PathLike] = None, title: Optional[str] = None
) -> bytes:
    """The three-slice preview of ``image`` (middle sagittal, coronal and axial slices in world
    orientation, voxel spacing respected, ``label`` overlaid) as PNG bytes, as ``graphrun
    preview`` draws it; also written to ``path`` when given. In a notebook:
    ``IPython.display.Image(voxflow.preview(vol))``."""
    if label is not None and label.kind != "label":
        raise ValueError("label must be a Volume of kind 'label'")
    png = _voxflow.preview_png(image._native(), None if label is None else label._native(), title)
    if path is not None:
        with open(os.fspath(path), "wb") as f:
            f.write(png)
    return png


def schema() -> Dict[str, Any]:
    """The JSON Schema of the graph format (``graphs/graph.schema.json``)."""
    return json.loads(_voxflow.schema_json())

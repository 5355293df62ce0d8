//! `voxflow._voxflow`: the native half of the Python package `voxflow`.
//!
//! Thin on purpose: graphs are parsed, validated and run by `voxflow-graph-runner` exactly as
//! `graphrun` runs them (same executor, same seeding), with `load` inputs given as paths or as
//! arrays and `save` nodes handing their volume back in memory instead of writing. The Python
//! API (`Volume`, `Graph`, `voxflow.torch`) lives in `python/voxflow`; this module converts
//! between numpy and [`Volume`], releases the GIL while a graph runs, and turns errors into
//! the package's exceptions, rendered once (`a: b: c`, as `graphrun` prints them).

use ndarray::{Array2, Array4, ArrayD, Axis, Ix4, ShapeBuilder};
use numpy::{Element, IntoPyArray, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use voxflow_core::{Affine, DType, Kind, LabelArray, Volume, Voxels, with_labels};
use voxflow_graph_runner::error_render::{error_chain, nearest};
use voxflow_graph_runner::run::{Capture, CaseRunner, Failure, NodeFailure};
use voxflow_graph_runner::{Case, Graph};

pyo3::create_exception!(_voxflow, VoxflowError, PyException, "Base of every voxflow error.");
pyo3::create_exception!(
    _voxflow,
    GraphError,
    VoxflowError,
    "A graph is invalid: the message names the node and parameter (as `graphrun validate` does)."
);
pyo3::create_exception!(
    _voxflow,
    RunError,
    VoxflowError,
    "Running a graph failed: the message names the case, output and node."
);
pyo3::create_exception!(
    _voxflow,
    NiftiError,
    VoxflowError,
    "A NIfTI file could not be read or written: the message names the file."
);

fn parse_kind(kind: &str) -> PyResult<Kind> {
    match kind {
        "image" => Ok(Kind::Image),
        "label" => Ok(Kind::Label),
        other => Err(PyValueError::new_err(format!("kind must be \"image\" or \"label\", not {other:?}"))),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Image => "image",
        Kind::Label => "label",
        Kind::Draw => "draw",
    }
}

/// A numpy array (3D `[x, y, z]` or 4D `[x, y, z, t]`) copied into voxflow's layout
/// (`[x, y, z, t]`, Fortran order, as NIfTI stores it).
fn to_array4<T: Element + Clone + Default>(array: &PyReadonlyArrayDyn<'_, T>) -> PyResult<Array4<T>> {
    let view = array.as_array();
    let view = match view.ndim() {
        3 => view.insert_axis(Axis(3)),
        4 => view,
        n => {
            return Err(PyValueError::new_err(format!(
                "a volume's array must be 3D [x, y, z] or 4D [x, y, z, t], not {n}D"
            )));
        }
    };
    let view = view.into_dimensionality::<Ix4>().map_err(|e| PyValueError::new_err(e.to_string()))?;
    if view.is_empty() {
        return Err(PyValueError::new_err(format!(
            "a volume's array must not be empty (shape {:?})",
            view.shape()
        )));
    }
    // numpy arrays of NIfTI volumes (ours, nibabel's) are usually Fortran-contiguous already:
    // one memcpy then, instead of an element-wise strided copy.
    if let Some(data) = view.as_slice_memory_order()
        && view.t().is_standard_layout()
    {
        return Array4::from_shape_vec(view.raw_dim().f(), data.to_vec())
            .map_err(|e| PyValueError::new_err(e.to_string()));
    }
    let mut out = Array4::<T>::default(view.raw_dim().f());
    out.assign(&view);
    Ok(out)
}

fn to_affine(affine: &PyReadonlyArray2<'_, f64>) -> PyResult<Affine> {
    let a = affine.as_array();
    if a.shape() != [4, 4] {
        return Err(PyValueError::new_err(format!("the affine must be 4x4, not {:?}", a.shape())));
    }
    let affine = Affine::from_fn(|r, c| a[(r, c)]);
    if affine.iter().any(|v| !v.is_finite()) {
        return Err(PyValueError::new_err("the affine has a non-finite value"));
    }
    if affine.fixed_view::<3, 3>(0, 0).determinant().abs() < 1e-12 {
        return Err(PyValueError::new_err("the affine's 3x3 part is singular (a voxel axis has no extent)"));
    }
    Ok(affine)
}

/// Builds a [`Volume`] from `(array, affine, kind)`; the Python side has already made the
/// array float32 (images) or one of the label integer types (labels).
fn volume_from_py(array: &Bound<'_, PyAny>, affine: &Bound<'_, PyAny>, kind: &str) -> PyResult<Volume> {
    let affine = to_affine(&affine.extract::<PyReadonlyArray2<'_, f64>>()?)?;
    let voxels = match parse_kind(kind)? {
        Kind::Image => Voxels::Image(to_array4(&array.extract::<PyReadonlyArrayDyn<'_, f32>>()?)?),
        Kind::Label => {
            macro_rules! try_label {
                ($($t:ty => $v:ident),*) => {$(
                    if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, $t>>() {
                        return Ok(Volume {
                            voxels: Voxels::Label(LabelArray::$v(to_array4(&a)?)),
                            affine,
                            stored_dtype: DType::$v,
                        });
                    }
                )*};
            }
            try_label!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, i64 => I64, u64 => U64);
            let dtype = array.getattr("dtype").map(|d| d.to_string()).unwrap_or_default();
            return Err(PyValueError::new_err(format!(
                "a label map's array must have an integer dtype (uint8, int8, uint16, int16, uint32, int32, int64, uint64), not {dtype}"
            )));
        }
        Kind::Draw => unreachable!("parse_kind returns image or label"),
    };
    Ok(Volume { voxels, affine, stored_dtype: DType::F32 })
}

/// `[x, y, z, 1]` becomes `[x, y, z]`; 4D stays 4D. No copy.
fn squeeze<T>(a: Array4<T>) -> ArrayD<T> {
    if a.shape()[3] == 1 { a.index_axis_move(Axis(3), 0).into_dyn() } else { a.into_dyn() }
}

/// `(array, affine, kind)` for Python. The voxels move into numpy without a copy when this was
/// the volume's last owner (numpy sees voxflow's Fortran-order strides).
fn volume_to_py(py: Python<'_>, volume: Arc<Volume>) -> (Py<PyAny>, Py<PyAny>, &'static str) {
    let volume = Arc::try_unwrap(volume).unwrap_or_else(|shared| (*shared).clone());
    let affine =
        Array2::from_shape_fn((4, 4), |(r, c)| volume.affine[(r, c)]).into_pyarray(py).into_any().unbind();
    let kind = kind_name(volume.kind());
    let array = match volume.voxels {
        Voxels::Image(a) => squeeze(a).into_pyarray(py).into_any().unbind(),
        Voxels::Label(labels) => with_labels!(labels, |a: T| squeeze(a).into_pyarray(py).into_any().unbind()),
    };
    (array, affine, kind)
}

/// Reads a NIfTI file as `kind`: `(array, affine, kind)`.
#[pyfunction]
fn read(py: Python<'_>, path: PathBuf, kind: &str) -> PyResult<(Py<PyAny>, Py<PyAny>, &'static str)> {
    let kind = parse_kind(kind)?;
    let volume = py
        .detach(|| voxflow_graph_runner::nifti::read(&path, kind))
        .map_err(|e| NiftiError::new_err(error_chain(&e)))?;
    Ok(volume_to_py(py, Arc::new(volume)))
}

/// Writes `(array, affine, kind)` to a NIfTI file (atomically; `.nii` or `.nii.gz`).
#[pyfunction]
#[pyo3(signature = (path, array, affine, kind, dtype=None, gzip_level=1))]
fn write(
    py: Python<'_>,
    path: PathBuf,
    array: &Bound<'_, PyAny>,
    affine: &Bound<'_, PyAny>,
    kind: &str,
    dtype: Option<&str>,
    gzip_level: u32,
) -> PyResult<()> {
    let volume = volume_from_py(array, affine, kind)?;
    let dtype = dtype
        .map(|name| {
            DType::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = DType::ALL.iter().map(|d| d.numpy_name()).collect();
                PyValueError::new_err(format!("unknown dtype {name:?}; one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    if gzip_level > 9 {
        return Err(PyValueError::new_err("gzip_level must be 0 to 9"));
    }
    py.detach(|| voxflow_graph_runner::nifti::write(&path, &volume, gzip_level, dtype))
        .map_err(|e| NiftiError::new_err(error_chain(&e)))
}

/// Every op with its summary, parameters (type, allowed values, default, doc), ports and
/// example, as JSON (what `graphrun ops --json` prints).
#[pyfunction]
fn ops_json() -> PyResult<String> {
    serde_json::to_string(&voxflow_graph_runner::ops::describe_ops())
        .map_err(|e| VoxflowError::new_err(e.to_string()))
}

/// The three-slice preview (middle sagittal, coronal and axial slices in world orientation,
/// labels overlaid) of `image` as PNG bytes, as `graphrun preview` draws it.
#[pyfunction]
#[pyo3(signature = (image, label=None, title=None))]
fn preview_png<'py>(
    py: Python<'py>,
    image: &Bound<'py, PyTuple>,
    label: Option<&Bound<'py, PyTuple>>,
    title: Option<&str>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let as_volume = |t: &Bound<'py, PyTuple>| -> PyResult<Volume> {
        let (array, affine, kind): (Bound<'py, PyAny>, Bound<'py, PyAny>, String) = t.extract()?;
        volume_from_py(&array, &affine, &kind)
    };
    let image = as_volume(image)?;
    let label = label.map(as_volume).transpose()?;
    let title = title.map_or_else(|| voxflow_preview::describe("volume", &image), ToOwned::to_owned);
    let png = py
        .detach(|| {
            let picture = voxflow_preview::render(
                &image,
                label.as_ref(),
                &title,
                &voxflow_preview::PreviewOptions::default(),
            )
            .map_err(|e| error_chain(&e))?;
            voxflow_preview::report::png_bytes(&picture).map_err(|e| error_chain(&e))
        })
        .map_err(VoxflowError::new_err)?;
    Ok(pyo3::types::PyBytes::new(py, &png))
}

/// The graph file's JSON Schema.
#[pyfunction]
fn schema_json() -> String {
    voxflow_graph_runner::schema::schema_json()
}

/// Rayon pools by thread count, for this process. A pool made before a `fork` has no threads
/// in the child, so pools are keyed by process id too (the parent's are left alone).
fn pool(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    type Pools = BTreeMap<(u32, usize), Arc<rayon::ThreadPool>>;
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let key = (std::process::id(), threads);
    let mut pools =
        POOLS.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pool) = pools.get(&key) {
        return Ok(Arc::clone(pool));
    }
    // Forgets (never drops) pools inherited through a fork: their threads do not exist here.
    let stale: Vec<_> = pools.keys().filter(|(pid, _)| *pid != key.0).copied().collect();
    for k in stale {
        if let Some(p) = pools.remove(&k) {
            std::mem::forget(p);
        }
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("voxflow-{i}"))
            .build()
            .map_err(|e| RunError::new_err(format!("cannot start {threads} threads: {e}")))?,
    );
    pools.insert(key, Arc::clone(&pool));
    Ok(pool)
}

/// A volume converted once into voxflow's layout and kept, so that running graphs on it again
/// and again copies nothing (`voxflow.Volume` makes one the first time it is a graph input).
#[pyclass(frozen, name = "_VolumeHandle", module = "voxflow._voxflow")]
struct VolumeHandle {
    volume: Arc<Volume>,
}

#[pymethods]
impl VolumeHandle {
    #[new]
    fn new(array: &Bound<'_, PyAny>, affine: &Bound<'_, PyAny>, kind: &str) -> PyResult<Self> {
        Ok(VolumeHandle { volume: Arc::new(volume_from_py(array, affine, kind)?) })
    }
}

/// A validated graph.
#[pyclass(frozen, name = "_Graph", module = "voxflow._voxflow")]
struct PyGraph {
    graph: Graph,
    /// Seconds the last run spent in Rust with the GIL released (f64 bits), to measure the
    /// overhead of the Python call around it.
    last_run_seconds: std::sync::atomic::AtomicU64,
}

/// One case's inputs: files by name, and volumes given in memory by name.
struct CaseInputs {
    case: Case,
    given: BTreeMap<String, Arc<Volume>>,
}

impl PyGraph {
    fn node_index(&self, name: &str) -> PyResult<usize> {
        self.graph.node_index(name).ok_or_else(|| {
            let names = self.graph.nodes.iter().map(|n| n.name.as_str());
            let hint = nearest(name, names).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            PyValueError::new_err(format!("the graph has no node `{name}`{hint}"))
        })
    }

    fn case_inputs(case: &str, inputs: Option<&Bound<'_, PyDict>>) -> PyResult<CaseInputs> {
        voxflow_graph_runner::dataset::check_case_id(case, || "the case".to_owned())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut files = BTreeMap::new();
        let mut given = BTreeMap::new();
        if let Some(inputs) = inputs {
            for (name, value) in inputs.iter() {
                let name: String = name.extract()?;
                if let Ok(handle) = value.cast::<VolumeHandle>() {
                    given.insert(name, Arc::clone(&handle.get().volume));
                } else if let Ok(tuple) = value.cast::<PyTuple>() {
                    let (array, affine, kind): (Bound<'_, PyAny>, Bound<'_, PyAny>, String) =
                        tuple.extract()?;
                    let volume = volume_from_py(&array, &affine, &kind)
                        .map_err(|e| PyValueError::new_err(format!("input `{name}`: {e}")))?;
                    given.insert(name, Arc::new(volume));
                } else {
                    let path: PathBuf = value.extract().map_err(|_| {
                        PyValueError::new_err(format!("input `{name}` must be a path or a voxflow.Volume"))
                    })?;
                    files.insert(name, path);
                }
            }
        }
        Ok(CaseInputs { case: Case { id: case.to_owned(), inputs: files }, given })
    }

    /// Runs one (case, output) in memory; the GIL is released meanwhile.
    fn run_captured(
        &self,
        py: Python<'_>,
        inputs: CaseInputs,
        output: u64,
        seed: Option<u64>,
        targets: BTreeSet<usize>,
        threads: usize,
        write_to: Option<&Path>,
    ) -> PyResult<voxflow_graph_runner::run::OutputRecord> {
        let seed = seed.unwrap_or(self.graph.file.seed);
        let pool = pool(threads.max(1))?;
        let graph = &self.graph;
        let CaseInputs { case, given } = inputs;
        let mut capture = Capture::in_memory(targets, given);
        let scratch = PathBuf::new();
        if write_to.is_some() {
            // The same output-folder checks as a run: every file stays under `dir`.
            voxflow_graph_runner::run::plan(graph, std::slice::from_ref(&case), output.saturating_add(1))
                .map_err(|e| RunError::new_err(error_chain(&e)))?;
            capture.write = true;
            if let Some(nodes) = &mut capture.nodes {
                nodes.extend(self.save_nodes());
            }
        }
        let output_dir = write_to.unwrap_or(&scratch);
        let start = std::time::Instant::now();
        let result = py.detach(|| {
            pool.install(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    CaseRunner::new(graph, &case, seed, output_dir, capture)
                        .and_then(|mut runner| runner.run_output(output))
                }))
            })
        });
        self.last_run_seconds
            .store(start.elapsed().as_secs_f64().to_bits(), std::sync::atomic::Ordering::Relaxed);
        let failure = |f: NodeFailure| {
            let failure =
                Failure { case: case.id.clone(), output: Some(output), node: f.node, message: f.message };
            RunError::new_err(failure.to_string())
        };
        match result {
            Ok(Ok(record)) => Ok(record),
            Ok(Err(f)) => Err(failure(f)),
            Err(_) => Err(failure(NodeFailure {
                node: None,
                message: "internal error (a bug in voxflow, please report it)".to_owned(),
                write_error: false,
            })),
        }
    }
}

#[pymethods]
impl PyGraph {
    /// Parses and validates a graph from its JSON text; `path` (where it came from) is kept
    /// for messages.
    #[new]
    #[pyo3(signature = (text, path=None))]
    fn new(text: &str, path: Option<PathBuf>) -> PyResult<Self> {
        let mut graph = Graph::from_json(text).map_err(|e| {
            let message = error_chain(&e);
            match &path {
                Some(p) => GraphError::new_err(format!("{}: {message}", p.display())),
                None => GraphError::new_err(message),
            }
        })?;
        graph.path = path;
        Ok(PyGraph { graph, last_run_seconds: std::sync::atomic::AtomicU64::new(0) })
    }

    /// Seconds the last `run` or `draws` spent in Rust (GIL released): the rest of a call's
    /// time is the Python binding's overhead.
    #[getter]
    fn last_run_seconds(&self) -> f64 {
        f64::from_bits(self.last_run_seconds.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.graph.file.seed
    }

    #[getter]
    fn outputs(&self) -> u64 {
        self.graph.file.outputs
    }

    /// The graph's hash (as manifests record it).
    #[getter]
    fn hash(&self) -> &str {
        &self.graph.hash
    }

    /// The nodes as JSON: name, op, kind, dtype, channels, inputs (port to node), and for
    /// `load` its input name, for `save` its path template.
    fn nodes_json(&self) -> String {
        let nodes: Vec<serde_json::Value> = self
            .graph
            .nodes
            .iter()
            .map(|n| {
                let inputs: BTreeMap<&str, &str> = n
                    .inputs
                    .iter()
                    .map(|(port, &from)| (port.as_str(), self.graph.nodes[from].name.as_str()))
                    .collect();
                serde_json::json!({
                    "name": n.name,
                    "op": n.op_name,
                    "kind": kind_name(n.kind),
                    "dtype": n.facts.dtype.map(DType::numpy_name),
                    "channels": n.facts.channels,
                    "inputs": inputs,
                    "load_input": n.load.as_ref().map(|l| l.input.clone()),
                    "save_path": n.save.as_ref().map(|s| s.path.clone()),
                })
            })
            .collect();
        serde_json::Value::Array(nodes).to_string()
    }

    /// The default dataset the file carries (`{"case": .., "inputs": {..}}`) as JSON, or None.
    fn dataset_json(&self) -> Option<String> {
        self.graph
            .file
            .dataset
            .as_ref()
            .map(|d| serde_json::json!({"case": d.case, "inputs": d.inputs}).to_string())
    }

    /// Runs one (case, output): `({node: (array, affine, kind)}, draws_json)`. `nodes` are the
    /// nodes to hand back (default: every `save` node); only what they need runs.
    #[pyo3(signature = (inputs, case, output, seed=None, nodes=None, threads=1, write_to=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyDict>,
        case: &str,
        output: u64,
        seed: Option<u64>,
        nodes: Option<Vec<String>>,
        threads: usize,
        write_to: Option<PathBuf>,
    ) -> PyResult<(Bound<'py, PyDict>, String)> {
        let targets: BTreeSet<usize> = if let Some(names) = nodes {
            names.iter().map(|n| self.node_index(n)).collect::<PyResult<_>>()?
        } else {
            let saves = self.save_nodes();
            if saves.is_empty() { self.sinks() } else { saves }
        };
        let inputs = Self::case_inputs(case, Some(inputs))?;
        let record = self.run_captured(py, inputs, output, seed, targets, threads, write_to.as_deref())?;
        let out = PyDict::new(py);
        for (name, volume) in record.volumes {
            out.set_item(name, volume_to_py(py, volume))?;
        }
        let draws = serde_json::to_string(&record.draws).map_err(|e| RunError::new_err(e.to_string()))?;
        Ok((out, draws))
    }

    /// The draws of one (case, output) as the manifest records them (JSON), running only the
    /// random nodes and what they need (inputs are needed only when a draw reads a volume).
    #[pyo3(signature = (case, output, seed=None, inputs=None))]
    fn draws(
        &self,
        py: Python<'_>,
        case: &str,
        output: u64,
        seed: Option<u64>,
        inputs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        let targets: BTreeSet<usize> = self
            .graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == Kind::Draw)
            .map(|(i, _)| i)
            .collect();
        let inputs = Self::case_inputs(case, inputs)?;
        let record = self.run_captured(py, inputs, output, seed, targets, 1, None)?;
        serde_json::to_string(&record.draws).map_err(|e| RunError::new_err(e.to_string()))
    }
}

impl PyGraph {
    /// The `save` nodes, by index.
    fn save_nodes(&self) -> BTreeSet<usize> {
        (0..self.graph.nodes.len()).filter(|&i| self.graph.nodes[i].save.is_some()).collect()
    }

    /// Nodes whose value no other node uses (what a graph without `save` nodes produces).
    fn sinks(&self) -> BTreeSet<usize> {
        let used: BTreeSet<usize> =
            self.graph.nodes.iter().flat_map(|n| n.inputs.values().copied()).collect();
        (0..self.graph.nodes.len())
            .filter(|i| !used.contains(i) && self.graph.nodes[*i].kind != Kind::Draw)
            .collect()
    }
}

/// The native module.
#[pymodule]
fn _voxflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    voxflow_graph_runner::register_all();
    m.add("__version__", voxflow_graph_runner::VERSION)?;
    m.add("VoxflowError", m.py().get_type::<VoxflowError>())?;
    m.add("GraphError", m.py().get_type::<GraphError>())?;
    m.add("RunError", m.py().get_type::<RunError>())?;
    m.add("NiftiError", m.py().get_type::<NiftiError>())?;
    m.add_class::<PyGraph>()?;
    m.add_class::<VolumeHandle>()?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(ops_json, m)?)?;
    m.add_function(wrap_pyfunction!(schema_json, m)?)?;
    m.add_function(wrap_pyfunction!(preview_png, m)?)?;
    Ok(())
}

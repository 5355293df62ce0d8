//! voxflow in one crate, for Rust programs: read and write NIfTI, run any op on a volume in one
//! call, and run graphs over datasets.
//!
//! Each op crate can also be used on its own (`voxflow-geometry`, `voxflow-intensity`,
//! `voxflow-elastic`, `voxflow-labels`); this crate re-exports them all under short names and
//! adds the one-call entry points [`op`] and [`apply`], which work for every op `graphrun`
//! knows, deterministic or random, with the same parameters and defaults as a graph file.
//!
//! ```
//! use voxflow::{Kind, apply, op, read};
//!
//! let volume = read(voxflow::sample("someones_epi.nii.gz"), Kind::Image)?;
//! // A 10° rotation about z: the grid and affine are kept, the anatomy moves.
//! let rotated = apply(&*op("rotate", serde_json::json!({"angle": 10.0}))?, &volume)?;
//! assert_eq!(rotated.shape3(), volume.shape3());
//! assert_eq!(rotated.affine, volume.affine);
//! # Ok::<(), voxflow::Error>(())
//! ```
//!
//! The op crates' typed parameters work the same way: spatial ops have `Default` and `apply`.
//!
//! ```
//! use voxflow::geometry::{rotate::Rotate, spatial::SpatialOp};
//! let volume = voxflow::read(voxflow::sample("someones_epi.nii.gz"), voxflow::Kind::Image)?;
//! let typed = Rotate { angle: 10.0, ..Default::default() }.apply(&volume).expect("rotates");
//! let named = voxflow::apply(&*voxflow::op("rotate", serde_json::json!({"angle": 10.0}))?, &volume)?;
//! assert_eq!(typed.image().expect("image"), named.image().expect("image"));
//! # Ok::<(), voxflow::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use voxflow_core::{self as core, Affine, DType, Kind, Op, OpError, Value, Volume};
pub use voxflow_elastic as elastic;
pub use voxflow_geometry as geometry;
pub use voxflow_graph_runner::{self as graph_runner, Graph, RunOptions, RunSummary, run};
pub use voxflow_intensity as intensity;
pub use voxflow_io_nifti::{self as nifti, WriteOptions};
pub use voxflow_labels as labels;
pub use voxflow_preview as preview;

/// What can go wrong in this crate's calls, each layer's error kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("op `{op}`")]
    Op { op: String, source: OpError },
    #[error("op `{op}`: its parameters")]
    Params { op: String, source: serde_json::Error },
    #[error(transparent)]
    Nifti(#[from] voxflow_io_nifti::NiftiError),
    #[error("op `{op}` gave {what}, not a volume")]
    NotAVolume { op: String, what: &'static str },
}

/// Reads a NIfTI file as an image (float32) or a label map (its integer type), as `graphrun`'s
/// `load` does.
///
/// ```
/// let label = voxflow::read(voxflow::sample("mni152_tissue_labels.nii.gz"), voxflow::Kind::Label)?;
/// assert_eq!(label.kind(), voxflow::Kind::Label);
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>, kind: Kind) -> Result<Volume, Error> {
    Ok(voxflow_io_nifti::read(path, kind)?)
}

/// Writes a volume to `.nii` or `.nii.gz`, atomically (a temporary file, then a rename), in
/// the type it was read with: a uint8 scan rotated and written back is uint8 again (with
/// `scl_slope`/`scl_inter` when the values no longer fit), a label map keeps its integer type,
/// and an image an intensity op produced is float32. [`write_with`] asks for another type.
///
/// ```
/// use voxflow::{Kind, apply, op, read, write};
/// let volume = read(voxflow::sample("mni152_t1.nii.gz"), Kind::Image)?; // stored as uint8
/// let rotated = apply(&*op("rotate", serde_json::json!({"angle": 5.0}))?, &volume)?;
/// let dir = std::env::temp_dir().join(format!("voxflow-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// write(dir.join("t1.nii.gz"), &rotated)?;
/// let header = voxflow::nifti::read_header(dir.join("t1.nii.gz"))?;
/// assert_eq!(header.datatype, voxflow::DType::U8);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn write(path: impl AsRef<Path>, volume: &Volume) -> Result<(), Error> {
    write_with(path, volume, &WriteOptions { image_dtype: volume.stored_dtype, ..WriteOptions::default() })
}

/// [`write()`] with explicit options: the stored type of an image (`image_dtype`) and the gzip
/// level.
///
/// ```
/// let volume = voxflow::read(voxflow::sample("someones_epi.nii.gz"), voxflow::Kind::Image)?;
/// let dir = std::env::temp_dir().join(format!("voxflow-doc-w-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = voxflow::WriteOptions { image_dtype: voxflow::DType::F32, gzip_level: 6 };
/// voxflow::write_with(dir.join("epi.nii.gz"), &volume, &options)?;
/// assert_eq!(voxflow::read(dir.join("epi.nii.gz"), voxflow::Kind::Image)?.shape3(), volume.shape3());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn write_with(path: impl AsRef<Path>, volume: &Volume, options: &WriteOptions) -> Result<(), Error> {
    Ok(voxflow_io_nifti::write(path, volume, options)?)
}

/// An op by its graph name and parameters (`null` or `{}`: every default), exactly as a graph
/// node would build it; `graphrun ops NAME` lists the parameters.
///
/// ```
/// let flip = voxflow::op("flip", serde_json::json!({"axes": [0]}))?;
/// let bad = voxflow::op("rotate", serde_json::json!({"angel": 10}));
/// assert!(bad.unwrap_err().to_string().contains("rotate"));
/// # let _ = flip;
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn op(name: &str, params: serde_json::Value) -> Result<Box<dyn Op>, Error> {
    voxflow_graph_runner::register_all();
    let params = if params.is_null() { serde_json::json!({}) } else { params };
    let op: Box<dyn Op> = serde_json::from_value(serde_json::json!({ "op": name, "params": params }))
        .map_err(|source| Error::Params { op: name.to_owned(), source })?;
    op.validate().map_err(|source| Error::Op { op: name.to_owned(), source })?;
    Ok(op)
}

/// Runs `op` on `volume` and returns the result, resampled: a grid op, an augmentation, an
/// intensity or a label op; or a random op, which is drawn (seed 0, see [`apply_seeded`]) and
/// its draw applied. An op with a `like` port (a random crop) gets `volume` there.
///
/// ```
/// use voxflow::{Kind, apply, op, read};
/// let label = read(voxflow::sample("mni152_tissue_labels.nii.gz"), Kind::Label)?;
/// let patch = apply(&*op("random_crop", serde_json::json!({"size": [64, 64, 64]}))?, &label)?;
/// assert_eq!(patch.shape3(), [64, 64, 64]);
/// assert_eq!(patch.kind(), Kind::Label);
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn apply(op: &dyn Op, volume: &Volume) -> Result<Volume, Error> {
    apply_seeded(op, volume, 0)
}

/// [`apply`] with the random op's draw seeded by `seed` (the same seed, the same draw).
///
/// ```
/// use voxflow::{Kind, apply_seeded, op, read};
/// let image = read(voxflow::sample("someones_epi.nii.gz"), Kind::Image)?;
/// let gamma = op("random_gamma", serde_json::json!({}))?;
/// let a = apply_seeded(&*gamma, &image, 7)?;
/// let b = apply_seeded(&*gamma, &image, 7)?;
/// assert_eq!(a.image().unwrap(), b.image().unwrap());
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn apply_seeded(op: &dyn Op, volume: &Volume, seed: u64) -> Result<Volume, Error> {
    apply_with(op, volume, &BTreeMap::new(), seed)
}

/// [`apply_seeded`] with volumes on the op's other ports (`mask` of `normalize`, `like` of
/// `resample_to` or `random_foreground_crop`, `weights` of `random_weighted_crop`).
///
/// ```
/// use std::collections::BTreeMap;
/// use voxflow::{Kind, apply_with, op, read};
/// let image = read(voxflow::sample("mni152_t1.nii.gz"), Kind::Image)?;
/// let label = read(voxflow::sample("mni152_tissue_labels.nii.gz"), Kind::Label)?;
/// let fg = op("random_foreground_crop", serde_json::json!({"size": [32, 32, 32], "p_foreground": 1.0}))?;
/// let patch = apply_with(&*fg, &image, &BTreeMap::from([("like", &label)]), 3)?;
/// assert_eq!(patch.shape3(), [32, 32, 32]);
/// # Ok::<(), voxflow::Error>(())
/// ```
pub fn apply_with(
    op: &dyn Op,
    volume: &Volume,
    others: &BTreeMap<&str, &Volume>,
    seed: u64,
) -> Result<Volume, Error> {
    let name = serde_json::to_value(op)
        .ok()
        .and_then(|v| v.get("op").and_then(|n| n.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "op".to_owned());
    let failed = |source| Error::Op { op: name.clone(), source };
    let volume = Arc::new(volume.clone());
    let shared: BTreeMap<&str, Arc<Volume>> =
        others.iter().map(|(k, v)| (*k, Arc::new((*v).clone()))).collect();
    let inputs_for = |op: &dyn Op, with_volume: bool| {
        let mut inputs = voxflow_core::Inputs::default();
        for port in op.ports() {
            let value = match shared.get(port.name) {
                Some(v) => Some(Arc::clone(v)),
                None if port.name == "volume" && with_volume => Some(Arc::clone(&volume)),
                None if port.name == "like" => Some(Arc::clone(&volume)),
                None => None,
            };
            if let Some(v) = value {
                inputs.0.insert(port.name.to_owned(), Value::Volume(v));
            }
        }
        inputs
    };
    let case_inputs = BTreeMap::<String, PathBuf>::new();
    let materialize = voxflow_graph_runner::run::materialize;
    let mut ctx = voxflow_core::RunContext {
        node: "op",
        case_id: "case",
        output_index: 0,
        rng: voxflow_core::seed::rng_for(&voxflow_core::seed::DrawKey {
            graph_seed: seed,
            case_id: "case",
            output_index: 0,
            node: "op",
        }),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let mut value = op.run(&mut ctx, inputs_for(op, true)).map_err(failed)?;
    if let Value::Draw(drawn) = value {
        let mut inputs = inputs_for(&*drawn, true);
        inputs.0.insert("volume".to_owned(), Value::Volume(Arc::clone(&volume)));
        value = drawn.run(&mut ctx, inputs).map_err(failed)?;
    }
    match value {
        Value::Volume(v) => Ok(Arc::unwrap_or_clone(v)),
        Value::Deferred(d) => materialize(&d).map_err(failed),
        Value::Draw(_) => Err(Error::NotAVolume { op: name, what: "a draw" }),
    }
}

/// The path of one of the sample volumes in the repository's `data/` (for examples and tests).
#[must_use]
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

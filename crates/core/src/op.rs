//! The op trait every graph node implements, and what flows between nodes.

use crate::{DType, Deferred, OpError, Volume, seed::Rng};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kind of value on a graph edge, known before any data is read, so wiring mistakes (an
/// intensity op fed a label map) are caught when the graph is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Intensities, computed in f32.
    Image,
    /// A label map, integer-typed; interpolated nearest or one-hot, never into new values.
    Label,
    /// Parameters drawn by a random op: a concrete op to apply to one or more volumes.
    Draw,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Image => "image",
            Kind::Label => "label map",
            Kind::Draw => "draw",
        })
    }
}

/// What validation knows of a node's output before any voxel is read (tract's facts).
///
/// **Channels and frames.** The 4th array axis holds either the frames of a series as loaded (a
/// 4D fMRI/DWI file: `channels: None`, their number is the file's) or channels an op made (one
/// per class of `one_hot`, per region of `merge_labels`: `channels: Some(n)`). Ops treat both
/// as independent 3D volumes sharing one grid (spatial ops move all alike, intensity ops work
/// per frame); the difference matters to ops that read the axis as classes (`argmax` needs as
/// many channels as classes) or need a single volume (`one_hot` needs one).
///
/// **The grid.** `shape` is the spatial shape `[x, y, z]` when validation can know it: `None`
/// after `load` (the file decides), set by ops that fix it (`resize` to a `shape`, `crop`,
/// `crop_or_pad`), adjusted by `pad`, kept by ops that keep the grid. For a draw it is what
/// applying the draw makes of a volume's shape: `Some(size)` for a crop, `None` when the drawn op
/// keeps the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub kind: Kind,
    /// The voxel type in memory: f32 for images; a label map's integer type, or `None` while
    /// it is the type of the file a `load` will read.
    pub dtype: Option<DType>,
    /// The length of the 4th axis when the graph fixes it (see above); `None`: as loaded.
    pub channels: Option<usize>,
    /// The grid shape `[x, y, z]` when validation knows it (see above); `None`: known only once
    /// the data is read. For a draw: the shape its op gives (`None`: it keeps the grid, unless
    /// `reshapes`).
    pub shape: Option<[usize; 3]>,
    /// For a draw: its op changes the grid's shape in a way known only once drawn (a quarter
    /// turn of two axes of different lengths), so a volume it is applied to has no known shape.
    pub reshapes: bool,
}

impl Facts {
    /// An f32 image with `channels` (None: as loaded).
    #[must_use]
    pub fn image(channels: Option<usize>) -> Self {
        Facts { kind: Kind::Image, dtype: Some(DType::F32), channels, shape: None, reshapes: false }
    }

    /// A label map of `dtype` (None: the file's) with `channels`.
    #[must_use]
    pub fn label(dtype: Option<DType>, channels: Option<usize>) -> Self {
        Facts { kind: Kind::Label, dtype, channels, shape: None, reshapes: false }
    }

    /// A draw (no voxels) whose op keeps the grid; see [`Facts::with_shape`] for one that
    /// does not.
    #[must_use]
    pub fn draw() -> Self {
        Facts { kind: Kind::Draw, dtype: None, channels: None, shape: None, reshapes: false }
    }

    /// The same facts on a grid of `shape` (`None`: unknown until the data is read; for a
    /// draw, what its op makes of the grid).
    #[must_use]
    pub fn with_shape(self, shape: Option<[usize; 3]>) -> Self {
        Facts { shape, ..self }
    }
}

/// A grid shape as `x×y×z`.
struct ShapeText([usize; 3]);

impl std::fmt::Display for ShapeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [x, y, z] = self.0;
        write!(f, "{x}x{y}x{z}")
    }
}

impl std::fmt::Display for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == Kind::Draw {
            return match self.shape {
                Some(s) => write!(f, "draw, to shape {}", ShapeText(s)),
                None => write!(f, "draw, keeps the grid"),
            };
        }
        write!(f, "{}", self.kind)?;
        match self.dtype {
            Some(d) => write!(f, ", {}", format!("{d:?}").to_lowercase())?,
            None => write!(f, ", dtype of the file")?,
        }
        match self.channels {
            Some(1) => {}
            Some(n) => write!(f, ", {n} channels")?,
            None => write!(f, ", frames as loaded")?,
        }
        match self.shape {
            Some(s) => write!(f, ", shape {}", ShapeText(s)),
            None => write!(f, ", shape known once read"),
        }
    }
}

/// A named input of an op and the kinds it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub name: &'static str,
    pub accepts: &'static [Kind],
    pub required: bool,
}

impl Port {
    /// The usual single input: a volume of either kind, named `volume`.
    pub const VOLUME: Port = Port { name: "volume", accepts: &[Kind::Image, Kind::Label], required: true };
    /// A single image input, named `volume` (intensity ops).
    pub const IMAGE: Port = Port { name: "volume", accepts: &[Kind::Image], required: true };
}

/// What flows along a graph edge.
// A value is moved a handful of times per node run: boxing the deferred variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Value {
    /// Voxels in memory. Shared, so fanning out to several branches copies nothing.
    Volume(Arc<Volume>),
    /// A volume whose resample is still to be done (spatial ops fuse through this).
    Deferred(Deferred),
    /// Parameters drawn once by a random op, as the concrete op they describe; every node that
    /// consumes it applies exactly the same transform.
    Draw(Arc<dyn Op>),
}

impl Value {
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Value::Volume(v) => v.kind(),
            Value::Deferred(d) => d.source.kind(),
            Value::Draw(_) => Kind::Draw,
        }
    }
}

/// The inputs handed to [`Op::run`], by port name.
#[derive(Debug, Default)]
pub struct Inputs(pub BTreeMap<String, Value>);

impl Inputs {
    /// Takes the value on `port`.
    pub fn take(&mut self, port: &str) -> Result<Value, OpError> {
        self.0
            .remove(port)
            .ok_or_else(|| OpError::Input { port: port.to_owned(), message: "not connected".into() })
    }

    /// Takes an optional input.
    pub fn take_optional(&mut self, port: &str) -> Option<Value> {
        self.0.remove(port)
    }

    /// Takes a volume that is in memory (the runner resamples deferred inputs for ops that do
    /// not accept them).
    pub fn volume(&mut self, port: &str) -> Result<Arc<Volume>, OpError> {
        match self.take(port)? {
            Value::Volume(v) => Ok(v),
            Value::Deferred(_) => Err(OpError::Input {
                port: port.to_owned(),
                message: "got a volume with a pending resample; the runner should have resampled it".into(),
            }),
            Value::Draw(_) => {
                Err(OpError::Input { port: port.to_owned(), message: "expected a volume, got a draw".into() })
            }
        }
    }

    /// Takes a draw.
    pub fn draw(&mut self, port: &str) -> Result<Arc<dyn Op>, OpError> {
        match self.take(port)? {
            Value::Draw(d) => Ok(d),
            other => Err(OpError::Input {
                port: port.to_owned(),
                message: format!("expected a draw, got {}", other.kind()),
            }),
        }
    }
}

/// Performs a pending resample; see [`RunContext::materialize`].
pub type Materialize = dyn Fn(&Deferred) -> Result<Volume, OpError> + Sync;

/// What an op may know about the run it is part of.
pub struct RunContext<'a> {
    /// The node's name in the graph.
    pub node: &'a str,
    /// The case being processed (e.g. `BraTS_001`).
    pub case_id: &'a str,
    /// Which of the N outputs of this case is being produced.
    pub output_index: u64,
    /// This node's generator, seeded by (graph seed, case, output index, node name).
    pub rng: Rng,
    /// The case's input files, by the names the graph's `load` nodes use.
    pub case_inputs: &'a BTreeMap<String, PathBuf>,
    /// Where outputs go (the root that `save` templates are relative to).
    pub output_dir: &'a Path,
    /// Files written by this node, for the manifest.
    pub written: Vec<PathBuf>,
    /// Performs a pending resample (the runner passes the geometry crate's resampling core;
    /// core itself cannot resample).
    pub materialize: &'a Materialize,
}

impl std::fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("node", &self.node)
            .field("case_id", &self.case_id)
            .field("output_index", &self.output_index)
            .finish_non_exhaustive()
    }
}

/// A graph node: a plain parameter struct (serde, `deny_unknown_fields`) registered with
/// `#[typetag::serde(name = "...")]`. In a graph file a node is
/// `{"name": ..., "op": ..., "params": {...}, "inputs": {"port": "other node"}}`.
#[typetag::serde(tag = "op", content = "params")]
pub trait Op: Send + Sync + std::fmt::Debug {
    /// The inputs the op takes.
    fn ports(&self) -> &'static [Port] {
        &[Port::VOLUME]
    }

    /// Checks the parameters (ranges, consistency) before any data is read.
    fn validate(&self) -> Result<(), OpError> {
        Ok(())
    }

    /// The kind of the output given the kinds of the connected inputs (already checked
    /// against [`Op::ports`]). The default passes the `volume` input's kind through.
    fn output_kind(&self, inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        inputs
            .get("volume")
            .copied()
            .ok_or_else(|| OpError::Input { port: "volume".into(), message: "not connected".into() })
    }

    /// What the output is, from what the inputs are (already checked against [`Op::ports`]),
    /// before any voxel is read: kind, in-memory dtype, channel count and grid shape
    /// ([`Facts`]). The default takes the kind from [`Op::output_kind`] and the shape from
    /// [`Op::output_shape`]; an image is f32; dtype and channels pass through from the `volume`
    /// input when the kind does not change. Ops that change the dtype or the channels
    /// (`one_hot`, `argmax`, `remap_labels`, ...) say so here, and may refuse inputs whose facts
    /// do not fit (an error naming the parameter).
    fn output_facts(&self, inputs: &BTreeMap<String, Facts>) -> Result<Facts, OpError> {
        let kinds = inputs.iter().map(|(port, f)| (port.clone(), f.kind)).collect();
        let kind = self.output_kind(&kinds)?;
        let same = inputs.get("volume").filter(|f| f.kind == kind);
        let facts = match kind {
            Kind::Image => Facts::image(same.and_then(|f| f.channels)),
            Kind::Label => Facts::label(same.and_then(|f| f.dtype), same.and_then(|f| f.channels)),
            Kind::Draw => Facts { reshapes: self.draw_reshapes(), ..Facts::draw() },
        };
        Ok(facts.with_shape(self.output_shape(inputs)?))
    }

    /// For a random op: whether its drawn op may change the grid's shape in a way the
    /// parameters do not fix (see [`Facts::reshapes`]). Default false.
    fn draw_reshapes(&self) -> bool {
        false
    }

    /// The output's grid shape as far as validation can know it (see [`Facts`]). The default
    /// keeps the `volume` input's: the op keeps the grid. Ops that fix the shape (`resize`,
    /// `crop`), change it (`pad`) or make it unknowable before the data (`resample_to_spacing`)
    /// say so here.
    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        Ok(inputs.get("volume").and_then(|f| f.shape))
    }

    /// Whether the op takes [`Value::Deferred`] inputs (spatial ops, which fuse). Other ops
    /// get their inputs resampled first.
    fn accepts_deferred(&self) -> bool {
        false
    }

    /// For a random op (one that outputs [`Kind::Draw`]): the kinds of volume its drawn op may
    /// be applied to. Intensity draws say `[Image]`, so wiring one to a label map is caught when
    /// the graph is validated.
    fn draw_applies_to(&self) -> &'static [Kind] {
        &[Kind::Image, Kind::Label]
    }

    /// Runs the op.
    fn run(&self, ctx: &mut RunContext<'_>, inputs: Inputs) -> Result<Value, OpError>;
}

/// Runs a volume-to-volume op (an intensity or label op) on one volume outside a graph: what
/// its node does with `volume` on its `volume` port. Ops call it from their own `apply`
/// (`Gamma { gamma: 0.8, ..Default::default() }.apply(&volume)`).
///
/// Anything the op draws inside its run uses one fixed seed. A result left pending (a spatial
/// op's resample) is an error here: spatial ops apply through `voxflow_geometry`'s
/// `SpatialOp::apply`, and the `voxflow` facade's `apply` runs any op.
pub fn run_on_volume(op: &dyn Op, volume: &Volume) -> Result<Volume, OpError> {
    op.validate()?;
    let case_inputs = BTreeMap::new();
    let no_resampling = |_: &Deferred| -> Result<Volume, OpError> { Err(no_resampling_error()) };
    let key = crate::seed::DrawKey { graph_seed: 0, case_id: "volume", output_index: 0, node: "op" };
    let mut ctx = RunContext {
        node: "op",
        case_id: "volume",
        output_index: 0,
        rng: crate::seed::rng_for(&key),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &no_resampling,
    };
    let mut inputs = Inputs::default();
    inputs.0.insert("volume".to_owned(), Value::Volume(Arc::new(volume.clone())));
    match op.run(&mut ctx, inputs)? {
        Value::Volume(v) => Ok(Arc::unwrap_or_clone(v)),
        Value::Deferred(_) => Err(no_resampling_error()),
        Value::Draw(_) => Err(OpError::Input {
            port: "volume".to_owned(),
            message: "the op is random: it returns a draw, not a volume (apply the drawn op)".to_owned(),
        }),
    }
}

fn no_resampling_error() -> OpError {
    OpError::Input {
        port: "volume".to_owned(),
        message: "a pending resample cannot be performed here (apply the spatial op first)".to_owned(),
    }
}

//! Shared types of voxflow.
//!
//! * [`Volume`]: voxels plus the voxel-to-world [`Affine`], with its [`Voxels`] kind (image or
//!   label map) and the dtype it had on disk.
//! * [`Op`]: the trait every graph node implements, registered with `typetag` so a JSON graph
//!   can name it by its `op` string.
//! * [`Value`]: the closed set of things that flow along graph edges.
//! * [`ResampleSpec`] and its vocabulary ([`Interpolation`], [`BoundaryMode`], [`Fill`]): how a
//!   spatial op asks for a resample, so a chain of them can be fused into one.
//! * [`orientation`]: nibabel's `io_orientation` (which world axis each voxel axis runs along),
//!   the one implementation behind orientation codes, `reorient` and previews.
//! * [`seed`]: how random draws are seeded, so they depend on (graph seed, case, output, node)
//!   and never on execution order or thread count.

pub mod apply;
pub mod compose;
pub mod doc;
pub mod dtype;
pub mod error;
pub mod hash;
pub mod memory;
pub mod op;
pub mod orientation;
pub mod params;
pub mod random;
pub mod resample;
pub mod seed;
pub mod volume;

pub use apply::Apply;
pub use doc::{OpDoc, op_docs};
pub use dtype::DType;
pub use error::{CoreError, OpError};
pub use inventory;
pub use op::{Facts, Inputs, Kind, Materialize, Op, Port, RunContext, Value, run_on_volume};
pub use orientation::{Orientation, OrientationError};
pub use resample::{BoundaryMode, Deferred, DisplacementField, Fill, FillRule, Interpolation, ResampleSpec};
pub use schemars;
pub use volume::{Affine, LabelArray, LabelType, Volume, Voxels};

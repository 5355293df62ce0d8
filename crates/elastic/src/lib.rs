//! Elastic deformation of volumes, fast and label-safe, fused with the affine.
//!
//! Two field models, one file each (parameters, pure field generator, random sampler):
//! * [`simard`]: the tutorial's model (Simard et al. 2003), Gaussian-smoothed uniform noise,
//!   with the smoothing done on a coarse grid in time independent of sigma;
//! * [`control_grid`]: TorchIO / batchgenerators-style random control points and a cubic
//!   B-spline, in millimetres (anisotropic volumes deform physically).
//!
//! The graph nodes `elastic` and `random_elastic` live in [`elastic`]. Elastic never has its own
//! interpolation loop: the field goes into a [`voxflow_core::ResampleSpec`] (`field`), and the
//! geometry crate's resampling core does the rest, in one resample with any preceding affine.

mod banded;
pub mod control_grid;
pub mod elastic;
pub mod error;
pub mod simard;

pub use banded::SeparableField;
pub use control_grid::{ControlGridParams, control_grid_field, control_grid_separable};
pub use elastic::{Elastic, Model, RandomElastic, RandomModel};
pub use error::ElasticError;
pub use simard::{SimardParams, SimardRange, simard_field, simard_separable};

/// Links this crate's ops into a binary (typetag registers them at link time).
pub fn register() {}

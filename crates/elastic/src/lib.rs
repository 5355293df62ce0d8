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
//!
//! On a volume in memory, [`Elastic::apply`] deforms in one call:
//!
//! ```
//! use voxflow_core::{Affine, Volume};
//! use voxflow_elastic::{Elastic, Model, SimardParams};
//! let ramp = ndarray::Array3::from_shape_fn((16, 16, 16), |(x, _, _)| x as f32);
//! let image = Volume::image3(ramp, Affine::identity());
//! let model = Model::Simard(SimardParams { alpha: 400.0, sigma: 4.0 });
//! let warp = Elastic::new(model, 7, Default::default());
//! let warped = warp.apply(&image)?;
//! assert_eq!((warped.shape3(), warped.affine), (image.shape3(), image.affine));
//! assert_ne!(warped, image);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod banded;
pub mod control_grid;
pub mod elastic;
pub mod error;
pub mod simard;

pub use control_grid::{ControlGridParams, control_grid_field};
pub use elastic::{Elastic, Model, RandomElastic, RandomModel};
pub use error::ElasticError;
pub use simard::{SimardParams, SimardRange, simard_field};

/// Links this crate's ops into a binary (typetag registers them at link time).
///
/// ```
/// voxflow_elastic::register();
/// assert!(voxflow_core::op_docs().any(|doc| doc.name == "random_elastic"));
/// ```
pub fn register() {}

//! `low_resolution` / `random_low_resolution`: simulates a coarser acquisition by resampling the
//! image down to `round(shape · zoom)` voxels and back up to its own shape.
//!
//! ```json
//! {"name": "lr", "op": "random_low_resolution", "params": {"zoom": [0.5, 1.0], "p": 0.25}},
//! {"name": "image_lr", "op": "apply", "inputs": {"volume": "image", "draw": "lr"}}
//! ```
//!
//! An intensity augmentation: the grid and the affine are kept and the anatomy stays where it
//! is; only the resolution drops (nnU-Net's `SimulateLowResolutionTransform`, MONAI's
//! `RandSimulateLowResolution`, TorchIO's `RandomAnisotropy` with `axes`). Both resamples are
//! the geometry crate's scipy zoom ([`voxflow_geometry::resize`]: [`zoomed_shape`],
//! [`zoom_matrix`], and its one resampling core), with the target shape given explicitly so the
//! upsample lands exactly on the original shape:
//!
//! - `grid_mode` (edge-aligned grids): the low-resolution grid covers the same field of view as
//!   the original, each coarse voxel spanning `1 / zoom` fine voxels, as a thicker-slice scan of
//!   the same anatomy would. scipy's default (corner voxel centres aligned) would stretch the
//!   coarse voxels beyond the original extent and shift the anatomy by a fraction of a voxel.
//!   With `grid_mode`, order 0 is PyTorch's `nearest-exact` and order 1 its `trilinear` with
//!   `align_corners=False`, which nnU-Net v2 and MONAI use.
//! - Boundary mode `nearest` (edge voxel repeated): the upsample samples up to half a coarse
//!   voxel beyond the outer voxel centres, where PyTorch clamps to the edge too. A constant
//!   fill would darken the border.
//! - Defaults: down with order 0 (nearest: no anti-aliasing, the blocky coarse image of nnU-Net
//!   and MONAI), up with order 1 (linear, as nnU-Net v2's batchgeneratorsv2 and MONAI). Linear
//!   never leaves the range of the coarse voxels; cubic (`up_order: 3`, nnU-Net v1's choice)
//!   overshoots at edges (ringing) and costs more.
//!
//! `random_low_resolution` draws the zoom uniformly in `zoom` (default `[0.5, 1]`, nnU-Net's),
//! one value for all degraded axes (nnU-Net's `synchronize_axes`, MONAI) or, with
//! `per_axis: true`, one per axis in axis order. Axes not in `axes` keep zoom 1 (e.g. `[0, 1]`
//! leaves the slice axis of an already anisotropic volume alone, nnU-Net's `ignore_axes`). When
//! `p` skips, the draw is `low_resolution` with zoom 1, which returns the input untouched.

use crate::IntensityError;
use crate::node::{IMAGE_PORTS, map_image, take_image};
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{BoundaryMode, Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};
use voxflow_geometry::resample::{Order, transform_image};
use voxflow_geometry::resize::{zoom_matrix, zoomed_shape};
use voxflow_geometry::scale::Factor;

/// Parameters of `low_resolution` (also what `random_low_resolution` draws).
///
/// ```
/// use voxflow_geometry::scale::Factor;
/// use voxflow_intensity::low_resolution::LowResolution;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let coarse = LowResolution { zoom: Factor::Isotropic(0.5), up_order: 0, ..Default::default() };
/// let image = coarse.apply(&volume)?; // nearest down and up: blocks of 2 voxels
/// assert_eq!(image.shape3(), [8, 8, 8]);
/// assert_eq!(image.image()?[[0, 0, 0, 0]], image.image()?[[1, 1, 1, 0]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LowResolution {
    /// The resolution kept, one number or `[x, y, z]`, each in (0, 1]: the image is resampled
    /// to `round(shape · zoom)` voxels (at least 1) and back. 1 leaves that axis alone.
    pub zoom: Factor,
    /// scipy spline order of the downsample: 0 (nearest), 1 (linear) or 3 (cubic). Default 0.
    #[serde(default)]
    pub down_order: u8,
    /// scipy spline order of the upsample: 0, 1 or 3. Default 1 (linear).
    #[serde(default = "default_up_order")]
    pub up_order: u8,
}

/// Zoom 1 (the identity), down nearest, up linear: set `zoom`.
impl Default for LowResolution {
    fn default() -> Self {
        LowResolution { zoom: Factor::Isotropic(1.0), down_order: 0, up_order: default_up_order() }
    }
}

/// Parameters of `random_low_resolution`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::low_resolution::RandomLowResolution;
/// let random = RandomLowResolution { axes: vec![0, 1], ..Default::default() };
/// let zoom = random.sample(&mut voxflow_core::seed::Rng::seed_from_u64(7)).zoom.per_axis();
/// assert!((0.5..=1.0).contains(&zoom[0]) && zoom[0] == zoom[1] && zoom[2] == 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomLowResolution {
    /// Range of the zoom, within (0, 1]; default `[0.5, 1]` (nnU-Net, MONAI).
    #[serde(default = "default_zoom")]
    pub zoom: [f64; 2],
    /// Draw one zoom per axis of `axes` instead of one for all of them. Default false.
    #[serde(default)]
    pub per_axis: bool,
    /// The axes to degrade (0 = x, 1 = y, 2 = z); the others keep zoom 1. Default `[0, 1, 2]`.
    #[serde(default = "default_axes")]
    pub axes: Vec<usize>,
    /// Probability of applying it; otherwise zoom = 1. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
    /// See [`LowResolution::down_order`].
    #[serde(default)]
    pub down_order: u8,
    /// See [`LowResolution::up_order`].
    #[serde(default = "default_up_order")]
    pub up_order: u8,
}

/// The graph's defaults: one zoom in `[0.5, 1]` for all three axes (nnU-Net), always applied.
impl Default for RandomLowResolution {
    fn default() -> Self {
        RandomLowResolution {
            zoom: default_zoom(),
            per_axis: false,
            axes: default_axes(),
            p: default_p(),
            down_order: 0,
            up_order: default_up_order(),
        }
    }
}

fn default_up_order() -> u8 {
    1
}
fn default_zoom() -> [f64; 2] {
    [0.5, 1.0]
}
fn default_axes() -> Vec<usize> {
    vec![0, 1, 2]
}

fn check_zoom(zoom: [f64; 3]) -> Result<(), IntensityError> {
    match zoom.iter().find(|z| !(**z > 0.0 && **z <= 1.0)) {
        Some(z) => Err(IntensityError::param("zoom", format!("each zoom must be in (0, 1], got {z}"))),
        None => Ok(()),
    }
}

fn order(param: &'static str, order: u8) -> Result<Order, IntensityError> {
    Order::from_scipy(order).map_err(|e| IntensityError::param(param, e.to_string()))
}

/// `scipy.ndimage.zoom(frame, zoom, order, mode="nearest", grid_mode=True)` to the exact
/// shape `to`, through geometry's resampling core.
fn zoom_to(frame: ArrayView3<'_, f32>, to: [usize; 3], order: Order) -> Array3<f32> {
    let s = frame.shape();
    let m = zoom_matrix([s[0], s[1], s[2]], to, true);
    transform_image(frame, &m, None, to, order, BoundaryMode::Nearest, 0.0)
}

/// Resamples `frame` to `round(shape · zoom)` voxels (at least 1 per axis) with spline order
/// `down_order`, then back to its shape with `up_order`, both edge-aligned (see the module).
/// A zoom that keeps the shape (1 on every axis) returns the input unchanged.
///
/// ```
/// use voxflow_intensity::low_resolution::simulate_low_resolution;
/// let frame = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, _, _)| i as f32);
/// assert_eq!(simulate_low_resolution(frame.view(), [1.0; 3], 0, 1)?, frame);
/// let blocky = simulate_low_resolution(frame.view(), [0.25, 1.0, 1.0], 0, 0)?;
/// let row = blocky.slice(ndarray::s![.., 0, 0]).to_vec(); // two coarse voxels along x
/// assert!(row[..4].iter().all(|&v| v == row[0]) && row[4..].iter().all(|&v| v == row[4]));
/// # Ok::<(), voxflow_intensity::IntensityError>(())
/// ```
pub fn simulate_low_resolution(
    frame: ArrayView3<'_, f32>,
    zoom: [f64; 3],
    down_order: u8,
    up_order: u8,
) -> Result<Array3<f32>, IntensityError> {
    check_zoom(zoom)?;
    let (down, up) = (order("down_order", down_order)?, order("up_order", up_order)?);
    let s = frame.shape();
    let shape = [s[0], s[1], s[2]];
    let low = zoomed_shape(shape, zoom);
    if low == shape {
        return Ok(frame.to_owned());
    }
    let coarse = zoom_to(frame, low, down);
    Ok(zoom_to(coarse.view(), shape, up))
}

impl LowResolution {
    /// Lowers an image's resolution on its own grid: the `low_resolution` node on `volume`,
    /// in one call.
    ///
    /// ```
    /// use voxflow_geometry::scale::Factor;
    /// use voxflow_intensity::low_resolution::LowResolution;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(LowResolution::default().apply(&volume)?, volume);
    /// let thick = LowResolution { zoom: Factor::PerAxis([1.0, 1.0, 0.5]), ..Default::default() };
    /// assert_eq!(thick.apply(&volume)?.affine, volume.affine); // same grid
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }

    fn check(&self) -> Result<(), IntensityError> {
        check_zoom(self.zoom.per_axis())?;
        order("down_order", self.down_order)?;
        order("up_order", self.up_order).map(|_| ())
    }
}

voxflow_core::op_doc!(
    "low_resolution",
    LowResolution,
    "Resamples an image down by `zoom` (in (0, 1], one number or per axis) and back up to its shape, edge-aligned: lower resolution on the same grid; intensity only, the affine is kept.",
    r#"{"zoom": 0.5}"#
);

#[typetag::serde(name = "low_resolution")]
impl Op for LowResolution {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(self.check()?)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.check()?;
        let volume = take_image(&mut inputs)?;
        let zoom = self.zoom.per_axis();
        if zoom == [1.0; 3] {
            return Ok(Value::Volume(volume));
        }
        map_image(&volume, |_, frame| simulate_low_resolution(frame, zoom, self.down_order, self.up_order))
    }
}

impl RandomLowResolution {
    /// Draws the concrete op; apply it with [`LowResolution::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::low_resolution::RandomLowResolution;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomLowResolution { per_axis: true, ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?.shape3(), volume.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> LowResolution {
        let mut zoom = [1.0; 3];
        if happens(rng, self.p) {
            let shared = if self.per_axis { None } else { Some(uniform(rng, self.zoom)) };
            for (a, z) in zoom.iter_mut().enumerate() {
                if self.axes.contains(&a) {
                    *z = match shared {
                        Some(s) => s,
                        None => uniform(rng, self.zoom),
                    };
                }
            }
        }
        LowResolution { zoom: Factor::PerAxis(zoom), down_order: self.down_order, up_order: self.up_order }
    }
}

voxflow_core::op_doc!(
    "random_low_resolution",
    RandomLowResolution,
    "Draws a `low_resolution` with zoom uniform in `zoom` (one for all `axes`, or one per axis with `per_axis`), with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomLowResolution {
    type Drawn = LowResolution;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("zoom", self.zoom)?;
        if !(self.zoom[0] > 0.0 && self.zoom[1] <= 1.0) {
            return Err(OpError::param("zoom", format!("must lie in (0, 1], got {:?}", self.zoom)));
        }
        if self.axes.is_empty() {
            return Err(OpError::param("axes", "name at least one axis: 0 (x), 1 (y), 2 (z)"));
        }
        for (i, &a) in self.axes.iter().enumerate() {
            if a > 2 {
                return Err(OpError::param(
                    "axes",
                    format!("axis {a} is out of range: axes are 0 (x), 1 (y), 2 (z)"),
                ));
            }
            if self.axes[..i].contains(&a) {
                return Err(OpError::param("axes", format!("axis {a} is listed twice")));
            }
        }
        order("down_order", self.down_order)?;
        order("up_order", self.up_order)?;
        Ok(())
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<LowResolution, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_low_resolution")]
impl Op for RandomLowResolution {
    voxflow_core::random_op_node!(RandomLowResolution);
}

//! `affine`: a general affine transform of the anatomy about the volume's physical centre, on the
//! same grid; and [`affine_transform`], scipy's voxel-space function.
//!
//! The op's `matrix` is the forward motion of the anatomy (3x3 linear part, or 3x4 / 4x4 with a
//! translation in mm), applied about the physical centre, in world axes (`frame: "world"`,
//! RAS millimetres, the default) or along the volume's voxel axes in millimetres (`frame:
//! "voxel"`). The grid and affine are kept. On an isotropic axis-aligned (RAS) volume, matrix `F`
//! equals `scipy.ndimage.affine_transform(x, inv(F), offset=c - inv(F) c)` about the array
//! centre `c`.
//!
//! ```json
//! {"name": "sheared", "op": "affine", "params": {"matrix": [[1, 0.1, 0], [0, 1, 0], [0, 0, 1]], "translation": [2, 0, 0]}}
//! ```

use crate::GeometryError;
use crate::resample::transform_image;
use crate::spatial::{self, Resampling, SpatialOp, Step, spatial_op_node};
use nalgebra::{Matrix3, Matrix4, Vector3};
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Affine, BoundaryMode, Op};

/// The axes a transform's matrix is written in.
///
/// ```
/// use voxflow_geometry::affine::{AffineTransform, Frame};
/// let along_voxel_axes = AffineTransform { frame: Frame::Voxel, ..Default::default() };
/// assert_eq!(serde_json::to_value(along_voxel_axes.frame)?, "voxel");
/// assert_eq!(AffineTransform::default().frame, Frame::World);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frame {
    /// World axes (the affine's RAS millimetres). Default.
    #[default]
    World,
    /// The volume's voxel axes, in millimetres.
    Voxel,
}

/// Moves the anatomy by an affine transform about the physical centre; the grid is kept.
///
/// ```
/// use voxflow_geometry::{affine::AffineTransform, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// // 1 mm along world x (the volume's voxels are 1 mm, axis-aligned): one voxel.
/// let moved = AffineTransform { translation: [1.0, 0.0, 0.0], ..Default::default() }.apply(&volume)?;
/// assert_eq!(moved.image()?[[5, 2, 3, 0]], volume.image()?[[4, 2, 3, 0]]);
/// // The identity matrix leaves every voxel as it is.
/// assert_eq!(AffineTransform::default().apply(&volume)?, volume);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AffineTransform {
    /// Rows of a 3x3 linear map, or a 3x4 / 4x4 matrix whose last column is a translation in mm
    /// (a 4x4's last row must be `[0, 0, 0, 1]`). Must be invertible.
    pub matrix: Vec<Vec<f64>>,
    /// An extra translation in mm, added to the matrix's. Default `[0, 0, 0]`.
    #[serde(default)]
    pub translation: [f64; 3],
    /// `world` (default) or `voxel`: the axes `matrix` is written in.
    #[serde(default)]
    pub frame: Frame,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// The identity (a 3×3 identity `matrix`, no translation), in the world frame, default resampling: set `matrix`.
impl Default for AffineTransform {
    fn default() -> Self {
        AffineTransform {
            matrix: vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]],
            translation: [0.0; 3],
            frame: Frame::default(),
            resampling: Resampling::default(),
        }
    }
}

impl AffineTransform {
    /// An op from a linear map and a translation (mm).
    ///
    /// ```
    /// use nalgebra::Matrix3;
    /// use voxflow_geometry::affine::{AffineTransform, Frame};
    /// use voxflow_geometry::spatial::{Resampling, SpatialOp};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let op = AffineTransform::new(&Matrix3::identity(), [0.0; 3], Frame::Voxel, Resampling::default());
    /// assert_eq!(op.matrix, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    /// assert_eq!(op.apply(&volume)?, volume); // the identity moves nothing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(linear: &Matrix3<f64>, translation: [f64; 3], frame: Frame, resampling: Resampling) -> Self {
        let matrix = (0..3).map(|r| (0..3).map(|c| linear[(r, c)]).collect()).collect();
        AffineTransform { matrix, translation, frame, resampling }
    }

    /// The linear part and the translation (mm).
    pub(crate) fn parts(&self) -> Result<(Matrix3<f64>, Vector3<f64>), GeometryError> {
        let rows = self.matrix.len();
        let bad = || GeometryError::param("matrix", "expected 3 rows of 3 or 4 numbers, or 4 rows of 4");
        if !(rows == 3 || rows == 4) {
            return Err(bad());
        }
        let cols = self.matrix[0].len();
        if !(cols == 3 || cols == 4)
            || self.matrix.iter().any(|r| r.len() != cols)
            || (rows == 4 && cols != 4)
        {
            return Err(bad());
        }
        if self.matrix.iter().flatten().any(|v| !v.is_finite())
            || self.translation.iter().any(|v| !v.is_finite())
        {
            return Err(GeometryError::param("matrix", "entries must be finite"));
        }
        if rows == 4 && self.matrix[3] != [0.0, 0.0, 0.0, 1.0] {
            return Err(GeometryError::param("matrix", "the last row of a 4x4 matrix must be [0, 0, 0, 1]"));
        }
        let linear = Matrix3::from_fn(|r, c| self.matrix[r][c]);
        if linear.try_inverse().is_none() {
            return Err(GeometryError::param("matrix", "the transform is singular"));
        }
        let t =
            Vector3::from_fn(|r, _| self.translation[r] + if cols == 4 { self.matrix[r][3] } else { 0.0 });
        Ok((linear, t))
    }
}

impl SpatialOp for AffineTransform {
    /// The transform's effect on a grid.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let (linear, t) = self.parts()?;
        match self.frame {
            Frame::Voxel => spatial::augmentation(shape, affine, &linear, t),
            Frame::World => {
                let mut world = linear.to_homogeneous();
                world.fixed_view_mut::<3, 1>(0, 3).copy_from(&t);
                Ok(Step {
                    shape,
                    affine: *affine,
                    out_to_in: spatial::try_about_centre(shape, affine, &world)?,
                })
            }
        }
    }

    fn check(&self) -> Result<(), GeometryError> {
        self.parts()?;
        self.resampling.validate()
    }
    fn settings(&self) -> Resampling {
        self.resampling
    }
}

/// `scipy.ndimage.affine_transform(input, matrix, offset, output_shape, order=order, mode=mode,
/// cval=cval)`: output voxel `o` reads input coordinate `matrix · o + offset`. `order` is 0, 1
/// or 3 (with scipy's prefilter).
///
/// ```
/// use nalgebra::Matrix3;
/// use voxflow_core::BoundaryMode;
/// use voxflow_geometry::affine::affine_transform;
/// let input = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
/// // Output voxel (x, y, z) reads input voxel (y, x, z): a transpose of the first two axes.
/// let swap = Matrix3::new(0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
/// let out = affine_transform(input.view(), &swap, [0.0; 3], [4, 4, 4], 1, BoundaryMode::Constant, 0.0)?;
/// assert_eq!(out, input.view().permuted_axes([1, 0, 2]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn affine_transform(
    input: ArrayView3<f32>,
    matrix: &Matrix3<f64>,
    offset: [f64; 3],
    output_shape: [usize; 3],
    order: u8,
    mode: BoundaryMode,
    cval: f64,
) -> Result<Array3<f32>, GeometryError> {
    let order = spatial::scipy_order(order)?;
    let mut m: Matrix4<f64> = matrix.to_homogeneous();
    for a in 0..3 {
        m[(a, 3)] = offset[a];
    }
    Ok(transform_image(input, &m, None, output_shape, order, mode, cval))
}

voxflow_core::op_doc!(
    "affine",
    AffineTransform,
    "Applies a 3x3, 3x4 or 4x4 transform (in world or voxel axes) to the content, resampling on the same grid; an augmentation: the affine is kept.",
    r#"{"matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}"#
);

#[typetag::serde(name = "affine")]
impl Op for AffineTransform {
    spatial_op_node!();
}

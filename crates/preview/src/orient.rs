//! The closest canonical (RAS) orientation of a volume, from voxflow-core's one
//! `io_orientation` (nibabel 5.4.2).

use voxflow_core::Affine;
use voxflow_core::orientation::{Orientation, OrientationError};

/// How to view voxel axes as canonical RAS axes: permutation and flips, no interpolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canonical {
    /// `source_axis[c]` is the voxel axis shown along canonical (world) axis `c`.
    pub source_axis: [usize; 3],
    /// Whether canonical axis `c` runs against its voxel axis.
    pub flip: [bool; 3],
}

impl Canonical {
    /// Voxel spacing along the canonical axes.
    #[must_use]
    pub fn spacing(&self, affine: &Affine) -> [f64; 3] {
        let spacing = voxflow_core::volume::spacing(affine);
        self.source_axis.map(|i| spacing[i])
    }
}

impl From<Orientation> for Canonical {
    fn from(o: Orientation) -> Self {
        let source_axis = o.source_axis();
        Canonical { source_axis, flip: source_axis.map(|i| o.flip[i]) }
    }
}

/// nibabel's `io_orientation` as a view: the voxel axis shown along each world axis. An error
/// when a voxel axis has no direction (nibabel's `as_closest_canonical` refuses it too).
pub fn closest_canonical(affine: &Affine) -> Result<Canonical, OrientationError> {
    Orientation::of(affine).map(Canonical::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn las_volume_flips_x_only() {
        let affine =
            Affine::new(-2.0, 0.0, 0.0, 32.0, 0.0, 2.0, 0.0, -40.0, 0.0, 0.0, 2.0, -16.0, 0.0, 0.0, 0.0, 1.0);
        assert_eq!(
            closest_canonical(&affine),
            Ok(Canonical { source_axis: [0, 1, 2], flip: [true, false, false] })
        );
    }

    #[test]
    fn permuted_axes_are_found() {
        // Voxel axis 0 runs superior, 1 runs right, 2 runs posterior.
        let affine =
            Affine::new(0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        assert_eq!(
            closest_canonical(&affine),
            Ok(Canonical { source_axis: [1, 2, 0], flip: [false, true, false] })
        );
    }

    #[test]
    fn a_degenerate_affine_is_an_error() {
        let affine = Affine::from_diagonal(&nalgebra::Vector4::new(1.0, 0.0, 1.0, 1.0));
        assert!(closest_canonical(&affine).is_err());
    }
}

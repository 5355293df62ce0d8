//! The closest canonical (RAS) orientation of a volume, as nibabel's `io_orientation`.

use voxflow_core::Affine;

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

/// nibabel's `io_orientation`: orthogonalise the affine's rotation (SVD), then assign each
/// world axis the voxel axis that points most nearly along it, largest first.
#[must_use]
pub fn closest_canonical(affine: &Affine) -> Canonical {
    let mut rotation = affine.fixed_view::<3, 3>(0, 0).into_owned();
    for mut column in rotation.column_iter_mut() {
        let norm = column.norm();
        if norm > 0.0 {
            column /= norm;
        }
    }
    let svd = rotation.svd(true, true);
    let orthogonal = match (svd.u, svd.v_t) {
        (Some(u), Some(v_t)) => u * v_t,
        _ => rotation,
    };
    let mut source_axis = [0, 1, 2];
    let mut flip = [false; 3];
    let mut world_used = [false; 3];
    let mut voxel_used = [false; 3];
    for _ in 0..3 {
        let mut best = (0, 0, -1.0);
        for w in (0..3).filter(|&w| !world_used[w]) {
            for i in (0..3).filter(|&i| !voxel_used[i]) {
                let value = orthogonal[(w, i)].abs();
                if value > best.2 {
                    best = (w, i, value);
                }
            }
        }
        let (w, i, _) = best;
        world_used[w] = true;
        voxel_used[i] = true;
        source_axis[w] = i;
        flip[w] = orthogonal[(w, i)] < 0.0;
    }
    Canonical { source_axis, flip }
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
            Canonical { source_axis: [0, 1, 2], flip: [true, false, false] }
        );
    }

    #[test]
    fn permuted_axes_are_found() {
        // Voxel axis 0 runs superior, 1 runs right, 2 runs posterior.
        let affine =
            Affine::new(0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        assert_eq!(
            closest_canonical(&affine),
            Canonical { source_axis: [1, 2, 0], flip: [false, true, false] }
        );
    }
}

//! A synthetic multi-modal dataset (BraTS-like: T1, T1c, T2, FLAIR and a segmentation), each
//! volume on its own oblique, anisotropic grid, as separate acquisitions are. Every voxel is
//! sampled from one phantom defined in world millimetres, so the volumes agree in world space
//! and only there: a head (an ellipsoid of brain) with a tumour of three nested regions
//! (necrosis 1, oedema 2, enhancing 3, BraTS 2023 labels) whose contrast differs per modality.
//!
//! Written as an nnU-Net raw folder (`imagesTr/{case}_000{0..3}.nii.gz`, `labelsTr/{case}.nii.gz`)
//! by `cargo run -p voxflow-tests --example make_multimodal -- DIR [CASES]`.

use nalgebra::{Matrix3, Rotation3, Vector3, Vector4};
use ndarray::Array3;
use std::path::Path;
use voxflow_core::{Affine, Volume};

/// The modalities in nnU-Net channel order.
pub const MODALITIES: [&str; 4] = ["t1", "t1c", "t2", "flair"];

/// The tissue at a world position for case `case` (0 background, 4 brain, 1..3 tumour).
fn tissue(case: usize, w: Vector3<f64>) -> u8 {
    let head = Vector3::new(w.x / 70.0, w.y / 85.0, w.z / 60.0);
    if head.norm() >= 1.0 {
        return 0;
    }
    // The tumour moves with the case, off the head's centre.
    let c = Vector3::new(18.0 - 6.0 * case as f64, -12.0 + 5.0 * case as f64, 8.0);
    let r = (w - c).norm();
    match r {
        r if r < 6.0 => 1,
        r if r < 10.0 => 3,
        r if r < 18.0 => 2,
        _ => 4,
    }
}

/// A modality's intensity for a tissue, with a smooth bias so images are not piecewise flat.
fn intensity(modality: usize, tissue: u8, w: Vector3<f64>) -> f32 {
    // [background, necrosis, oedema, enhancing, brain] per modality.
    const CONTRAST: [[f32; 5]; 4] = [
        [0.0, 40.0, 70.0, 85.0, 100.0],
        [0.0, 35.0, 75.0, 190.0, 100.0],
        [0.0, 160.0, 150.0, 90.0, 70.0],
        [0.0, 60.0, 180.0, 120.0, 80.0],
    ];
    let base = CONTRAST[modality][tissue as usize];
    if base == 0.0 { 0.0 } else { base * (1.0 + 0.05 * (w.x / 40.0).sin() as f32) }
}

/// An oblique grid of `shape` voxels of `zooms` mm, rotated by `angles` (radians) and centred
/// on the world origin.
#[must_use]
pub fn grid(shape: [usize; 3], zooms: [f64; 3], angles: [f64; 3]) -> Affine {
    let m = Rotation3::from_euler_angles(angles[0], angles[1], angles[2]).matrix()
        * Matrix3::from_diagonal(&Vector3::from(zooms));
    let mut a = Affine::identity();
    a.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
    let t = -(m * Vector3::from(shape.map(|n| (n as f64 - 1.0) / 2.0)));
    for i in 0..3 {
        a[(i, 3)] = t[i];
    }
    a
}

fn world(affine: &Affine, (i, j, k): (usize, usize, usize)) -> Vector3<f64> {
    (affine * Vector4::new(i as f64, j as f64, k as f64, 1.0)).xyz()
}

/// The grids of one case: the four modalities, then the segmentation (all different).
#[must_use]
pub fn grids(case: usize) -> [([usize; 3], Affine); 5] {
    let s = case as f64 * 0.05;
    [
        ([76, 92, 66], grid([76, 92, 66], [2.0, 2.0, 2.0], [0.05 + s, -0.1, 0.15])),
        ([100, 120, 44], grid([100, 120, 44], [1.5, 1.5, 3.0], [-0.2, 0.1 - s, 0.05])),
        ([64, 80, 60], grid([64, 80, 60], [2.4, 2.2, 2.2], [0.1, 0.25, -0.2 + s])),
        ([80, 96, 40], grid([80, 96, 40], [1.9, 1.9, 3.3], [0.3 - s, -0.05, 0.1])),
        ([96, 110, 80], grid([96, 110, 80], [1.6, 1.6, 1.6], [-0.1, -0.15, 0.3])),
    ]
}

/// The volumes of one case: four images, then the segmentation (uint8; brain is 0 there).
#[must_use]
pub fn case_volumes(case: usize) -> Vec<Volume> {
    let grids = grids(case);
    let mut volumes: Vec<Volume> = (0..4)
        .map(|m| {
            let (shape, affine) = grids[m];
            let data = Array3::from_shape_fn(shape, |v| {
                let w = world(&affine, v);
                intensity(m, tissue(case, w), w)
            });
            Volume::image3(data, affine)
        })
        .collect();
    let (shape, affine) = grids[4];
    let seg = Array3::from_shape_fn(shape, |v| match tissue(case, world(&affine, v)) {
        4 => 0,
        t => t,
    });
    volumes.push(Volume::label3(seg, affine));
    volumes
}

/// Writes `cases` cases as an nnU-Net raw folder under `dir`.
pub fn write_dataset(dir: &Path, cases: usize) -> Result<(), voxflow_io_nifti::NiftiError> {
    let options = voxflow_io_nifti::WriteOptions::default();
    for sub in ["imagesTr", "labelsTr"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|source| voxflow_io_nifti::NiftiError::Io { path: dir.join(sub), source })?;
    }
    for case in 0..cases {
        let id = format!("brats{case:03}");
        let volumes = case_volumes(case);
        for (m, volume) in volumes[..4].iter().enumerate() {
            voxflow_io_nifti::write(dir.join(format!("imagesTr/{id}_{m:04}.nii.gz")), volume, &options)?;
        }
        voxflow_io_nifti::write(dir.join(format!("labelsTr/{id}.nii.gz")), &volumes[4], &options)?;
    }
    Ok(())
}

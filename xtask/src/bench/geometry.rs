//! Benchmarks of the geometry area (see `super::Row`): the resampling core on a 256^3 f32
//! phantom (Fortran order, as volumes are read), against scipy.ndimage 1.17 / numpy
//! (`xtask/python/geometry.py`, same phantom, same calls).

use super::{Row, median_ms};
use nalgebra::Matrix3;
use ndarray::{Array3, ShapeBuilder};
use voxflow_core::BoundaryMode;
use voxflow_geometry::{affine, crop, flip, resize, rotate};

const N: usize = 256;
const RUNS: usize = 5;
const ANGLE: f64 = 15.0;

/// The io phantom's formula, in Fortran order.
fn phantom() -> Array3<f32> {
    let c = (N as f64 - 1.0) / 2.0;
    let h = N as f64 / 2.0;
    Array3::from_shape_fn((N, N, N).f(), |(i, j, k)| {
        let (x, y, z) = ((i as f64 - c) / h, (j as f64 - c) / h, (k as f64 - c) / h);
        let r = ((x / 0.8).powi(2) + (y / 0.95).powi(2) + (z / 0.9).powi(2)).sqrt();
        if r > 1.05 {
            return 0.0;
        }
        let head = 1.0 / (1.0 + ((r - 1.0) * 40.0).exp());
        let brain = 1.0 / (1.0 + ((r - 0.85) * 40.0).exp());
        let texture = 1.0 + 0.1 * (8.0 * x).sin() * (6.0 * y).cos() * (5.0 * z).sin();
        (300.0 * head + 500.0 * brain * texture) as f32
    })
}

pub fn rows() -> anyhow::Result<Vec<Row>> {
    let data = phantom();
    let x = data.view();
    let m = Matrix3::new(0.95, 0.1, 0.02, -0.08, 1.05, 0.05, 0.03, -0.04, 0.9);
    let mut failed: Option<anyhow::Error> = None;
    let mut time = |runs: usize, f: &mut dyn FnMut() -> anyhow::Result<Array3<f32>>| {
        median_ms(runs, || match f() {
            Ok(a) => drop(std::hint::black_box(a)),
            Err(e) => failed = Some(e),
        })
    };
    let c = BoundaryMode::Constant;
    // The yardstick for flip and crop: within 2x of a plain copy of the same bytes
    // into a fresh array (memcpy, page faults of the new array included).
    let copy_ms = time(RUNS, &mut || Ok(x.to_owned()));
    let cropped = Array3::<f32>::zeros((200, 200, 200).f());
    let crop_copy_ms = time(RUNS, &mut || Ok(cropped.to_owned()));
    let rows = vec![
        Row {
            name: "rotate order 1, 256^3 f32".into(),
            voxflow_ms: time(RUNS, &mut || Ok(rotate::rotate(x, ANGLE, [0, 1], false, 1, c, 0.0)?)),
            target_ms: Some(50.0),
            baseline: "scipy.ndimage.rotate",
        },
        Row {
            name: "rotate order 3, 256^3 f32".into(),
            voxflow_ms: time(3, &mut || Ok(rotate::rotate(x, ANGLE, [0, 1], false, 3, c, 0.0)?)),
            target_ms: Some(300.0),
            baseline: "scipy.ndimage.rotate",
        },
        Row {
            name: "affine order 1, 256^3 f32".into(),
            voxflow_ms: time(RUNS, &mut || {
                Ok(affine::affine_transform(x, &m, [5.0, -3.0, 8.0], [N; 3], 1, c, 0.0)?)
            }),
            target_ms: Some(50.0),
            baseline: "scipy.ndimage.affine_transform",
        },
        Row {
            name: "zoom 0.5 order 1, 256^3 f32".into(),
            voxflow_ms: time(RUNS, &mut || Ok(resize::zoom(x, [0.5; 3], 1, c, 0.0, false)?)),
            target_ms: Some(15.0),
            baseline: "scipy.ndimage.zoom",
        },
        Row {
            name: "flip axis 0, 256^3 f32".into(),
            voxflow_ms: time(RUNS, &mut || Ok(flip::flip(x, 0))),
            target_ms: Some(2.0 * copy_ms),
            baseline: "numpy.flip + copy",
        },
        Row {
            name: "crop 200^3, 256^3 f32".into(),
            voxflow_ms: time(RUNS, &mut || Ok(crop::crop(x, [28; 3], [200; 3]))),
            target_ms: Some(2.0 * crop_copy_ms),
            baseline: "numpy slice + copy",
        },
        Row {
            name: "copy (memcpy), 256^3 f32".into(),
            voxflow_ms: copy_ms,
            target_ms: None,
            baseline: "numpy copy",
        },
    ];
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(rows)
}

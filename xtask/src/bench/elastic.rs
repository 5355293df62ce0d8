//! Benchmarks of the elastic area (see `super::Row`): field generation plus the one resample,
//! on a 256^3 f32 volume, for both field models. A fresh op each run, so the field cache does
//! not hide the generation. Issue 5's target: ≤ 300 ms on 2 cores.

use super::{Row, median_ms};
use ndarray::{Array3, ShapeBuilder};
use voxflow_core::{Affine, Fill, Volume};
use voxflow_elastic::{ControlGridParams, Elastic, Model, SimardParams};
use voxflow_geometry::spatial::Resampling;

const N: usize = 256;

fn phantom() -> Volume {
    let c = (N as f64 - 1.0) / 2.0;
    let mut data = Array3::<f32>::zeros((N, N, N).f());
    data.indexed_iter_mut().for_each(|((x, y, z), v)| {
        let r = ((x as f64 - c).powi(2) + (y as f64 - c).powi(2) + (z as f64 - c).powi(2)).sqrt()
            / (N as f64 / 2.0);
        *v = if r < 0.7 { 100.0 } else { 0.0 };
    });
    Volume::image3(data, Affine::identity())
}

pub fn rows() -> anyhow::Result<Vec<Row>> {
    let volume = phantom();
    let tutorial = Resampling { fill: Fill::Value(0.1), ..Resampling::default() };
    let cases = [
        (
            "elastic simard (tutorial) 256^3 f32",
            Model::Simard(SimardParams { alpha: 4.0, sigma: 35.0 }),
            tutorial,
            "tutorial's scipy gaussian_filter σ35 + map_coordinates, run on 128^3 ×8",
        ),
        (
            "elastic control grid 256^3 f32",
            Model::ControlGrid(ControlGridParams::default()),
            Resampling::default(),
            "scipy zoom(order 3) of 7^3 points + map_coordinates, run on 128^3 ×8",
        ),
    ];
    let mut rows = Vec::new();
    for (name, model, resampling, baseline) in cases {
        let mut result = Ok(());
        let ms = median_ms(5, || {
            let op = Elastic::new(model, 1, resampling);
            if let Err(e) = op.apply_to(&volume) {
                result = Err(e);
            }
        });
        result?;
        rows.push(Row { name: name.to_owned(), voxflow_ms: ms, target_ms: Some(300.0), baseline });
    }
    Ok(rows)
}

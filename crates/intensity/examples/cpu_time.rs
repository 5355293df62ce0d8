//! Single-kernel timing loop for profiling under `time` (user CPU seconds are robust to a
//! loaded machine): `cargo run --release -p voxflow-intensity --example cpu_time -- KERNEL N`.
#![allow(clippy::unwrap_used)]

use ndarray::{Array3, ShapeBuilder};
use std::hint::black_box;
use voxflow_intensity::normalize::Normalize;
use voxflow_intensity::{Region, gaussian_filter, normalize, percentile_clip};

fn phantom(n: usize) -> Array3<f32> {
    let c = (n as f32 - 1.0) / 2.0;
    Array3::from_shape_fn((n, n, n).f(), |(i, j, k)| {
        let (x, y, z) = ((i as f32 - c) / c, (j as f32 - c) / (0.9 * c), (k as f32 - c) / (0.8 * c));
        let r2 = x * x + y * y + z * z;
        if r2 > 1.0 {
            return 0.0;
        }
        let h = (i.wrapping_mul(73_856_093) ^ j.wrapping_mul(19_349_663) ^ k.wrapping_mul(83_492_791)) % 1000;
        100.0 * (1.0 - r2) + 20.0 + h as f32 / 50.0
    })
}

/// Runs a node on a volume nobody else holds (as in a pipeline), so it may work in place.
fn run_node(op: &dyn voxflow_core::Op, data: Array3<f32>) -> voxflow_core::Value {
    use voxflow_core::seed::{DrawKey, rng_for};
    let case_inputs = std::collections::BTreeMap::new();
    let materialize = |_: &voxflow_core::Deferred| -> Result<voxflow_core::Volume, voxflow_core::OpError> {
        Err(voxflow_core::OpError::param("volume", "no resampling here"))
    };
    let mut ctx = voxflow_core::RunContext {
        node: "n",
        case_id: "c",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 0, case_id: "c", output_index: 0, node: "n" }),
        case_inputs: &case_inputs,
        output_dir: std::path::Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let volume = voxflow_core::Volume::image3(data, voxflow_core::Affine::identity());
    let mut inputs = voxflow_core::Inputs::default();
    inputs.0.insert("volume".into(), voxflow_core::Value::Volume(std::sync::Arc::new(volume)));
    op.run(&mut ctx, inputs).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kernel = args.get(1).map_or("gamma", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let a = phantom(256);
    let v = a.view();
    let start = std::time::Instant::now();
    for _ in 0..n {
        match kernel {
            "gamma" => drop(black_box(voxflow_intensity::gamma::gamma(v, 0.8, false, false))),
            "powf" => drop(black_box(v.mapv(|x| x.abs().powf(0.8).copysign(x)))),
            "copy" => drop(black_box(v.mapv(|x| x))),
            "none" => {}
            "clone" => drop(black_box(a.clone())),
            "zscore_node" => drop(black_box(run_node(&Normalize::default(), a.clone()))),
            "gamma_node" => {
                let g = voxflow_intensity::gamma::Gamma {
                    gamma: 0.8,
                    rescale: false,
                    invert: false,
                    retain_stats: false,
                };
                drop(black_box(run_node(&g, a.clone())));
            }
            "noise" => drop(black_box(voxflow_intensity::noise::add_noise(v, 0.0, 1.0, 7, 0))),
            "bias" => drop(black_box(voxflow_intensity::bias_field::bias_field(v, 3, &[0.01; 20]))),
            "clip" => drop(black_box(voxflow_intensity::clip(v, 20.0, 80.0))),
            "zscore" => drop(black_box(normalize(v, &Normalize::default(), None).unwrap())),
            "percentile" => drop(black_box(percentile_clip(v, 5.0, 95.0, Region::All).unwrap())),
            "blur" => drop(black_box(gaussian_filter(v, [2.0; 3], 4.0))),
            _ => panic!("unknown kernel {kernel}"),
        }
    }
    println!("{kernel}: {:.1} ms wall per run", start.elapsed().as_secs_f64() * 1e3 / n as f64);
}

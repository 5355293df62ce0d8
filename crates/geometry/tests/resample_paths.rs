//! The fast interior paths of the resampling core against its general path, thread-count
//! determinism, label resampling, and the fusion of spatial ops.

use nalgebra::{Matrix3, Matrix4};
use ndarray::{Array3, Array4, ShapeBuilder};
use std::sync::Arc;
use voxflow_core::{BoundaryMode, Fill, Interpolation, ResampleSpec, Value, Volume};
use voxflow_geometry::resample::{Order, resample_volume, transform_image, transform_labels};
use voxflow_geometry::rotate::Rotate;
use voxflow_geometry::scale::{Factor, Scale};
use voxflow_geometry::shift::{Shift, Unit};
use voxflow_geometry::spatial::{Resampling, SpatialOp, Step, defer, materialize};

/// A smooth test volume with some texture, Fortran order.
fn phantom(shape: [usize; 3]) -> Array3<f32> {
    Array3::from_shape_fn(shape.f(), |(i, j, k)| {
        let (x, y, z) = (i as f32 * 0.31, j as f32 * 0.23, k as f32 * 0.17);
        100.0 * (x.sin() * y.cos() + (z + 0.5 * x).sin()) + 3.0 * ((i * 7 + j * 3 + k) % 5) as f32
    })
}

fn oblique() -> Matrix4<f64> {
    Matrix4::new(0.95, 0.1, 0.02, 2.5, -0.08, 1.05, 0.05, -1.5, 0.03, -0.04, 0.9, 3.0, 0.0, 0.0, 0.0, 1.0)
}

fn planar() -> Matrix4<f64> {
    let (c, s) = (20f64.to_radians().cos(), 20f64.to_radians().sin());
    Matrix4::new(c, s, 0.0, -4.0, -s, c, 0.0, 6.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
}

fn max_diff(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn fast_rows_equal_the_general_path() {
    let input = phantom([40, 36, 30]);
    let c_order = input.as_standard_layout().to_owned();
    let out_shape = [38, 37, 29];
    // A zero displacement field sends every voxel through the general (per-voxel) path.
    let zero = Array4::<f32>::zeros((38, 37, 29, 3));
    for m in [oblique(), planar()] {
        for order in [Order::Linear, Order::Cubic] {
            for mode in [
                BoundaryMode::Constant,
                BoundaryMode::Reflect,
                BoundaryMode::Nearest,
                BoundaryMode::GridConstant,
            ] {
                let fast = transform_image(input.view(), &m, None, out_shape, order, mode, -7.0);
                let slow = transform_image(input.view(), &m, Some(&zero), out_shape, order, mode, -7.0);
                let strided = transform_image(c_order.view(), &m, None, out_shape, order, mode, -7.0);
                let d = max_diff(&fast, &slow);
                assert!(d < 2e-3, "{order:?} {mode:?}: fast vs general {d}");
                assert!(max_diff(&fast, &strided) < 2e-3, "{order:?} {mode:?}: C order input");
            }
        }
    }
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let input = phantom([48, 40, 36]);
    let labels = input.mapv(|v| (v.abs() / 40.0) as u8);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
        pool.install(|| {
            let images: Vec<Array3<f32>> = [Order::Nearest, Order::Linear, Order::Cubic]
                .into_iter()
                .map(|o| {
                    transform_image(
                        input.view(),
                        &oblique(),
                        None,
                        [45, 41, 37],
                        o,
                        BoundaryMode::Mirror,
                        0.0,
                    )
                })
                .collect();
            let l = transform_labels(
                labels.view(),
                &oblique(),
                None,
                [45, 41, 37],
                Interpolation::Label,
                BoundaryMode::Constant,
                255u8,
            );
            (images, l)
        })
    };
    let (one, l1) = run(1);
    let (two, l2) = run(2);
    let (three, l3) = run(3);
    for ((a, b), c) in one.iter().zip(&two).zip(&three) {
        let bytes = |x: &Array3<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bytes(a), bytes(b));
        assert_eq!(bytes(a), bytes(c));
    }
    assert_eq!(l1, l2);
    assert_eq!(l1, l3);
}

#[test]
fn labels_keep_their_values_and_type() {
    let mut labels = Array3::<i16>::zeros((20, 18, 16).f());
    labels.slice_mut(ndarray::s![4..12, 5..13, 3..10]).fill(7);
    labels.slice_mut(ndarray::s![8..16, 6..10, 6..14]).fill(-3);
    let affine = Matrix4::new_scaling(1.5);
    let volume = Volume::label3(labels.clone(), affine);
    let spec = ResampleSpec {
        shape: [20, 18, 16],
        affine,
        out_to_in: planar(),
        interpolation: Interpolation::Label,
        mode: BoundaryMode::Constant,
        fill: Fill::Value(-1.0),
        field: None,
    };
    let out = resample_volume(&volume, &spec).expect("resample");
    assert_eq!(out.dtype(), voxflow_core::DType::I16);
    let voxflow_core::Voxels::Label(voxflow_core::LabelArray::I16(a)) = &out.voxels else {
        panic!("expected an i16 label map")
    };
    let mut seen: Vec<i16> = a.iter().copied().collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, vec![-3, -1, 0, 7], "only input labels and the fill label");
    // Nearest and one-hot agree away from boundaries; identity is exact for both.
    for interpolation in [Interpolation::Nearest, Interpolation::Label] {
        let out = transform_labels(
            labels.view(),
            &Matrix4::identity(),
            None,
            spec.shape,
            interpolation,
            spec.mode,
            0,
        );
        assert_eq!(out, labels);
    }
    // A label fill that does not fit the type is a parameter error.
    let bad = ResampleSpec { fill: Fill::Value(40000.0), ..spec };
    let err = resample_volume(&volume, &bad).expect_err("40000 does not fit i16");
    assert!(err.to_string().contains("label_fill"), "{err}");
}

#[test]
fn one_hot_label_interpolation_is_the_argmax_of_linear_one_hot_maps() {
    let labels = Array3::from_shape_fn((12, 11, 10).f(), |(i, j, k)| ((i / 3 + j / 4 + k / 5) % 3) as u8 * 2);
    let m = oblique();
    let out = transform_labels(
        labels.view(),
        &m,
        None,
        [12, 11, 10],
        Interpolation::Label,
        BoundaryMode::Nearest,
        0,
    );
    let maps: Vec<(u8, Array3<f32>)> = [0u8, 2, 4]
        .into_iter()
        .map(|l| {
            let onehot = labels.mapv(|v| f32::from(u8::from(v == l)));
            (
                l,
                transform_image(
                    onehot.view(),
                    &m,
                    None,
                    [12, 11, 10],
                    Order::Linear,
                    BoundaryMode::Nearest,
                    0.0,
                ),
            )
        })
        .collect();
    let mut ties = 0;
    for (idx, &got) in out.indexed_iter() {
        let mut weights: Vec<(f32, u8)> = maps.iter().map(|(l, m)| (m[idx], *l)).collect();
        weights.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if (weights[0].0 - weights[1].0).abs() < 1e-5 {
            ties += 1;
            continue;
        }
        assert_eq!(got, weights[0].1, "voxel {idx:?}");
    }
    assert!(ties < out.len() / 10);
}

fn settings() -> Resampling {
    Resampling { interpolation: Interpolation::Cubic, mode: BoundaryMode::Nearest, ..Resampling::default() }
}

#[test]
fn rotate_scale_shift_fuse_into_one_resample() {
    // An anisotropic oblique grid: the composed matrix is not a plain voxel rotation.
    let affine =
        Matrix4::new(0.0, -1.2, 0.1, 30.0, 0.9, 0.0, 0.0, -20.0, 0.05, 0.0, 2.5, 5.0, 0.0, 0.0, 0.0, 1.0);
    let volume = Arc::new(Volume::image3(phantom([32, 30, 20]), affine));
    let r = Rotate { axes: [0, 1], angle: 12.0, reshape: false, resampling: settings() };
    let s = Scale { factor: Factor::Isotropic(1.1), resampling: settings() };
    let t = Shift { offset: [0.05, -0.1, 0.0], unit: Unit::Fraction, resampling: settings() };
    let shape = [32, 30, 20];
    let steps: [Step; 3] = [
        r.step(shape, &affine).expect("rotate"),
        s.step(shape, &affine).expect("scale"),
        t.step(shape, &affine).expect("shift"),
    ];
    let mut value = Value::Volume(Arc::clone(&volume));
    for step in &steps {
        value = defer(value, step, &settings()).expect("defer");
    }
    let Value::Deferred(pending) = value else { panic!("spatial ops defer") };
    let fused = materialize(&pending).expect("materialize");
    let composed = steps[0].out_to_in * steps[1].out_to_in * steps[2].out_to_in;
    let spec = ResampleSpec {
        shape,
        affine,
        out_to_in: composed,
        interpolation: Interpolation::Cubic,
        mode: BoundaryMode::Nearest,
        fill: Fill::Value(0.0),
        field: None,
    };
    let once = resample_volume(&volume, &spec).expect("one resample");
    let (a, b) = (fused.image().expect("image"), once.image().expect("image"));
    let d = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let range =
        b.iter().copied().fold(f32::NEG_INFINITY, f32::max) - b.iter().copied().fold(f32::INFINITY, f32::min);
    assert!(d <= 1e-5 * range, "fused vs one resample: {d}");
    assert_eq!(fused.affine, affine, "augmentations keep the affine");
    // The world motion is rigid + isotropic on this anisotropic grid: the rotation's voxel
    // matrix maps mm lengths to equal mm lengths.
    let spacing = voxflow_core::volume::spacing(&affine);
    let lin: Matrix3<f64> = steps[0].out_to_in.fixed_view::<3, 3>(0, 0).into_owned();
    let s_mat = Matrix3::from_diagonal(&nalgebra::Vector3::new(spacing[0], spacing[1], spacing[2]));
    let in_mm = s_mat * lin * s_mat.try_inverse().expect("spacing");
    assert!((in_mm.transpose() * in_mm - Matrix3::identity()).norm() < 1e-9, "rotation is rigid in mm");
}

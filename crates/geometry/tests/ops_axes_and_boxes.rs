//! The exact axis ops (rot90, transpose and their random versions) and the box ops
//! (crop_nonzero, per-class ratios of random_foreground_crop, random_weighted_crop): numpy
//! parity on known arrays, world positions through the affine, label dtypes, 4D series, fusion
//! with a pending resample, and parameter errors naming the parameter.

use nalgebra::{Matrix4, Vector4};
use ndarray::{Array3, Array4, ArrayView3, Axis, ShapeBuilder, s};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, Rng, rng_for};
use voxflow_core::volume::IntoLabelArray;
use voxflow_core::{
    Affine, DType, Facts, Inputs, Kind, LabelArray, Op, OpError, RunContext, Value, Volume, Voxels,
    with_labels,
};
use voxflow_geometry::crop::Crop;
use voxflow_geometry::crop_nonzero::{CropNonzero, IfEmpty, nonzero_box};
use voxflow_geometry::foreground_crop::RandomForegroundCrop;
use voxflow_geometry::rot90::{RandomRot90, Rot90};
use voxflow_geometry::spatial::{self, Resampling, Step};
use voxflow_geometry::transpose::{RandomTranspose, Transpose};
use voxflow_geometry::weighted_crop::RandomWeightedCrop;

/// An oblique, anisotropic affine with an offset (so a wrong origin or axis order shows).
fn oblique() -> Affine {
    let t = 0.3f64;
    Matrix4::new(
        2.0 * t.cos(),
        -3.0 * t.sin(),
        0.0,
        -40.0,
        2.0 * t.sin(),
        3.0 * t.cos(),
        0.0,
        12.5,
        0.0,
        0.0,
        1.5,
        7.0,
        0.0,
        0.0,
        0.0,
        1.0,
    )
}

/// A unique value per voxel, `(x * ny + y) * nz + z`, in C or Fortran memory order.
fn ramp(shape: [usize; 3], fortran: bool) -> Array3<f32> {
    let mut a = Array3::zeros(shape.set_f(fortran));
    let [_, ny, nz] = shape;
    for ((x, y, z), v) in a.indexed_iter_mut() {
        *v = ((x * ny + y) * nz + z) as f32;
    }
    a
}

/// The voxel of a `ramp` of `shape` holding `value`.
fn ramp_index(value: f32, shape: [usize; 3]) -> [usize; 3] {
    let v = value as usize;
    [v / (shape[1] * shape[2]), (v / shape[2]) % shape[1], v % shape[2]]
}

fn world(a: &Affine, i: [usize; 3]) -> Vector4<f64> {
    a * Vector4::new(i[0] as f64, i[1] as f64, i[2] as f64, 1.0)
}

/// Every voxel of `out` (made from a `ramp` of `shape` on `affine`) sits where its source voxel
/// sat, in world space.
fn assert_world_positions_kept(out: &Volume, shape: [usize; 3], affine: &Affine) {
    let a = out.image().expect("image");
    for ((x, y, z, _), &v) in a.indexed_iter() {
        let src = ramp_index(v, shape);
        let d = (world(&out.affine, [x, y, z]) - world(affine, src)).norm();
        assert!(d < 1e-9, "voxel {:?} (from {src:?}) moved {d} mm", [x, y, z]);
    }
}

fn frame(v: &Volume) -> ArrayView3<'_, f32> {
    v.image().expect("image").index_axis(Axis(3), 0)
}

/// numpy.rot90's definition (numpy/lib/_function_base_impl.py), on a view: k = 1 is
/// `transpose(flip(m, axes[1]))`, 2 is `flip(flip(m, axes[0]), axes[1])`, 3 is
/// `flip(transpose(m), axes[1])`, with the transpose swapping the two axes.
fn numpy_rot90(m: ArrayView3<'_, f32>, k: i64, axes: [usize; 2]) -> Array3<f32> {
    let mut v = m;
    match k.rem_euclid(4) {
        1 => {
            v.invert_axis(Axis(axes[1]));
            v.swap_axes(axes[0], axes[1]);
        }
        2 => {
            v.invert_axis(Axis(axes[0]));
            v.invert_axis(Axis(axes[1]));
        }
        3 => {
            v.swap_axes(axes[0], axes[1]);
            v.invert_axis(Axis(axes[1]));
        }
        _ => {}
    }
    v.to_owned()
}

fn run_ports(op: &dyn Op, seed: u64, ports: Vec<(&str, Value)>) -> Result<Value, OpError> {
    let materialize = |d: &voxflow_core::Deferred| spatial::materialize(d).map_err(OpError::from);
    let case_inputs = BTreeMap::new();
    let mut ctx = RunContext {
        node: "node",
        case_id: "case",
        output_index: seed,
        rng: rng(seed),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let mut inputs = Inputs::default();
    for (name, v) in ports {
        inputs.0.insert(name.into(), v);
    }
    op.run(&mut ctx, inputs)
}

fn run(op: &dyn Op, input: Value) -> Result<Value, OpError> {
    run_ports(op, 0, vec![("volume", input)])
}

fn rng(i: u64) -> Rng {
    rng_for(&DrawKey { graph_seed: 42, case_id: "case", output_index: i, node: "draw" })
}

fn volume_of(v: Value) -> Volume {
    match v {
        Value::Volume(v) => (*v).clone(),
        Value::Deferred(d) => spatial::materialize(&d).expect("resample"),
        Value::Draw(_) => panic!("a draw"),
    }
}

fn param_of<T: std::fmt::Debug>(r: Result<T, OpError>) -> &'static str {
    match r {
        Err(OpError::Param { param, .. }) => param,
        other => panic!("expected a parameter error, got {other:?}"),
    }
}

fn port_of<T: std::fmt::Debug>(r: Result<T, OpError>) -> String {
    match r {
        Err(OpError::Input { port, .. }) => port,
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn facts(shape: [usize; 3]) -> BTreeMap<String, Facts> {
    [("volume".to_owned(), Facts::image(None).with_shape(Some(shape)))].into_iter().collect()
}

fn label_histogram(l: &LabelArray) -> BTreeMap<i128, usize> {
    with_labels!(l, |a: T| {
        let mut h = BTreeMap::new();
        for v in a {
            *h.entry(voxflow_core::LabelType::to_i128(*v)).or_default() += 1;
        }
        h
    })
}

const PLANES: [[usize; 2]; 6] = [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]];

// ------------------------------------------------------------------------------------------
// rot90 / random_rot90
// ------------------------------------------------------------------------------------------

#[test]
fn rot90_equals_numpy_rot90_for_every_k_plane_and_layout() {
    let shape = [3, 4, 5];
    for fortran in [false, true] {
        let data = ramp(shape, fortran);
        let volume = Volume::image3(data.clone(), oblique());
        for axes in PLANES {
            for k in -5..=6 {
                let out = Rot90 { k, axes }.apply(&volume).expect("rot90");
                let want = numpy_rot90(data.view(), k, axes);
                assert_eq!(frame(&out), want.view(), "k {k}, axes {axes:?}, fortran {fortran}");
                assert_world_positions_kept(&out, shape, &oblique());
            }
        }
    }
}

#[test]
fn rot90_changes_the_shape_of_a_non_square_plane_and_says_so_in_its_facts() {
    let volume = Volume::image3(ramp([3, 4, 5], true), oblique());
    let op = Rot90 { k: 1, axes: [0, 2] };
    let out = op.apply(&volume).expect("rot90");
    assert_eq!(out.shape3(), [5, 4, 3]);
    assert_eq!(op.output_shape(&facts([3, 4, 5])).expect("facts"), Some([5, 4, 3]));
    assert_eq!(Rot90 { k: 2, axes: [0, 2] }.output_shape(&facts([3, 4, 5])).expect("facts"), Some([3, 4, 5]));
    // Four quarter turns give the input back, voxels and affine.
    let mut v = volume.clone();
    for _ in 0..4 {
        v = op.apply(&v).expect("rot90");
    }
    assert_eq!(frame(&v), frame(&volume));
    assert!((v.affine - volume.affine).abs().max() < 1e-12);
    // A turn one way and one the other is the identity.
    let back = Rot90 { k: 1, axes: [2, 0] }.apply(&out).expect("rot90");
    assert_eq!(frame(&back), frame(&volume));
}

#[test]
fn rot90_of_a_label_map_keeps_its_dtype_values_and_every_frame_of_a_series() {
    let labels: Array3<i16> =
        Array3::from_shape_fn([4, 3, 2], |(x, y, z)| [0i16, -3, 7, 300][(x + 2 * y + z) % 4]);
    let volume = Volume::label3(labels.clone(), oblique());
    let out = Rot90 { k: 3, axes: [1, 2] }.apply(&volume).expect("rot90");
    assert_eq!(out.dtype(), DType::I16);
    let (Voxels::Label(a), Voxels::Label(b)) = (&volume.voxels, &out.voxels) else { panic!("labels") };
    assert_eq!(label_histogram(a), label_histogram(b));
    let LabelArray::I16(b) = b else { panic!("i16") };
    let as_f32 = labels.mapv(f32::from);
    assert_eq!(b.index_axis(Axis(3), 0).mapv(f32::from), numpy_rot90(as_f32.view(), 3, [1, 2]));

    // A 2-frame series: each frame turned alike.
    let f0 = ramp([3, 4, 5], false);
    let f1 = f0.mapv(|v| -v - 1.0);
    let series = Volume {
        voxels: Voxels::Image(ndarray::stack(Axis(3), &[f0.view(), f1.view()]).expect("stack")),
        affine: oblique(),
        stored_dtype: DType::F32,
    };
    let out = Rot90 { k: 1, axes: [0, 1] }.apply(&series).expect("rot90");
    let a = out.image().expect("image");
    assert_eq!(a.shape(), &[4, 3, 5, 2]);
    assert_eq!(a.index_axis(Axis(3), 0), numpy_rot90(f0.view(), 1, [0, 1]));
    assert_eq!(a.index_axis(Axis(3), 1), numpy_rot90(f1.view(), 1, [0, 1]));
}

#[test]
fn rot90_composes_into_a_pending_resample_exactly() {
    let shape = [6, 5, 4];
    let volume = Arc::new(Volume::image3(ramp(shape, true), oblique()));
    // A pending integer shift (out_to_in: +1 voxel on y), then rot90 on top of it.
    let mut m = Matrix4::identity();
    m[(1, 3)] = 1.0;
    let step = Step { shape, affine: oblique(), out_to_in: m };
    let pending =
        spatial::defer(Value::Volume(Arc::clone(&volume)), &step, &Resampling::default()).expect("defer");
    let Value::Deferred(d) = &pending else { panic!("deferred") };
    let materialized = spatial::materialize(d).expect("resample");
    for (k, axes) in [(1, [0, 1]), (3, [1, 2]), (2, [0, 2])] {
        let op = Rot90 { k, axes };
        let fused = run(&op, pending.clone()).expect("rot90");
        assert!(matches!(fused, Value::Deferred(_)), "composed, not resampled");
        let fused = volume_of(fused);
        let eager = op.apply(&materialized).expect("rot90");
        assert_eq!(frame(&fused), frame(&eager), "k {k} axes {axes:?}");
        assert!((fused.affine - eager.affine).abs().max() < 1e-9);
    }
    // k = 0 passes the value through untouched.
    assert!(matches!(run(&Rot90 { k: 4, axes: [0, 1] }, pending).expect("identity"), Value::Deferred(_)));
}

#[test]
fn rot90_parameters_are_checked_naming_the_parameter() {
    let v = Volume::image3(ramp([2, 2, 2], false), Affine::identity());
    assert_eq!(param_of(Rot90 { k: 1, axes: [1, 1] }.validate()), "axes");
    assert_eq!(param_of(Rot90 { k: 1, axes: [0, 3] }.apply(&v)), "axes");
    let parsed: Result<Rot90, _> = serde_json::from_str(r#"{"k": 1, "plane": [0, 1]}"#);
    assert!(
        parsed.is_err_and(|e| e.to_string().contains("plane")),
        "unknown parameters are refused, naming the key"
    );
    let defaults: Rot90 = serde_json::from_str("{}").expect("defaults");
    assert_eq!(defaults, Rot90 { k: 1, axes: [0, 1] });
    for (bad, param) in [
        (RandomRot90 { k: vec![], ..RandomRot90::default() }, "k"),
        (RandomRot90 { axes: vec![0], ..RandomRot90::default() }, "axes"),
        (RandomRot90 { axes: vec![0, 1, 2, 0], ..RandomRot90::default() }, "axes"),
        (RandomRot90 { axes: vec![1, 1], ..RandomRot90::default() }, "axes"),
        (RandomRot90 { axes: vec![0, 5], ..RandomRot90::default() }, "axes"),
        (RandomRot90 { p: 1.5, ..RandomRot90::default() }, "p"),
    ] {
        assert_eq!(param_of(bad.validate()), param, "{bad:?}");
    }
}

#[test]
fn random_rot90_draws_k_and_the_plane_as_batchgenerators_and_monai() {
    // Three axes: a sorted pair of two different axes, k from the list (augment_rot90).
    let op = RandomRot90::default();
    let mut seen = BTreeSet::new();
    for i in 0..300 {
        let d = op.sample(&mut rng(i));
        assert!(d.axes[0] < d.axes[1] && d.axes[1] < 3, "{d:?}");
        assert!((1..=3).contains(&d.k), "{d:?}");
        seen.insert((d.k, d.axes));
        assert_eq!(d, op.sample(&mut rng(i)), "seeded");
    }
    assert_eq!(seen.len(), 9, "every k in every plane: {seen:?}");
    // Two axes: that plane, in the given order (MONAI's spatial_axes); MONAI's max_k = 1.
    let monai = RandomRot90 { k: vec![1], axes: vec![2, 0], p: 1.0 };
    assert!((0..50).all(|i| monai.sample(&mut rng(i)) == Rot90 { k: 1, axes: [2, 0] }));
    // p = 0: the identity; p = 0.5: about half.
    let never = RandomRot90 { p: 0.0, ..RandomRot90::default() };
    assert!((0..50).all(|i| never.sample(&mut rng(i)).k == 0));
    let half = RandomRot90 { p: 0.5, ..RandomRot90::default() };
    let turned = (0..400).filter(|&i| half.sample(&mut rng(i)).k != 0).count();
    assert!((150..250).contains(&turned), "{turned}");
    // As a node: a draw, applied with the same op to image and label.
    let draw = match run_ports(&op, 7, vec![]).expect("draw") {
        Value::Draw(d) => d,
        other => panic!("{:?}", other.kind()),
    };
    assert!(format!("{draw:?}").starts_with("Rot90"));
}

// ------------------------------------------------------------------------------------------
// transpose / random_transpose
// ------------------------------------------------------------------------------------------

const PERMUTATIONS: [[usize; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

#[test]
fn transpose_equals_numpy_transpose_and_keeps_world_positions() {
    let shape = [3, 4, 5];
    for fortran in [false, true] {
        let data = ramp(shape, fortran);
        let volume = Volume::image3(data.clone(), oblique());
        for axes in PERMUTATIONS {
            let op = Transpose { axes };
            let out = op.apply(&volume).expect("transpose");
            // numpy.transpose(x, axes): output axis j is input axis axes[j].
            let want = data.view().permuted_axes(axes);
            assert_eq!(frame(&out), want, "axes {axes:?}");
            assert_eq!(op.output_shape(&facts(shape)).expect("facts"), Some(out.shape3()));
            assert_world_positions_kept(&out, shape, &oblique());
            // The affine's columns are permuted alike; the origin stays.
            for (j, &a) in axes.iter().enumerate() {
                for r in 0..4 {
                    assert!((out.affine[(r, j)] - volume.affine[(r, a)]).abs() < 1e-12);
                }
            }
        }
    }
    let labels =
        Volume::label3(Array3::from_shape_fn([2, 3, 4], |(x, y, z)| (x * 12 + y * 4 + z) as u8), oblique());
    let out = Transpose { axes: [2, 0, 1] }.apply(&labels).expect("transpose");
    assert_eq!(out.dtype(), DType::U8);
    let Voxels::Label(LabelArray::U8(a)) = &out.voxels else { panic!("u8") };
    assert_eq!(a.shape(), &[4, 2, 3, 1]);
    assert_eq!(a[[3, 1, 2, 0]], 12 + 2 * 4 + 3);
}

#[test]
fn transpose_errors_name_the_parameter_and_random_transpose_draws_permutations() {
    assert_eq!(param_of(Transpose { axes: [0, 0, 1] }.validate()), "axes");
    assert_eq!(param_of(Transpose { axes: [0, 1, 3] }.validate()), "axes");
    for (bad, param) in [
        (RandomTranspose { axes: vec![1], p: 1.0 }, "axes"),
        (RandomTranspose { axes: vec![1, 1], p: 1.0 }, "axes"),
        (RandomTranspose { axes: vec![0, 3], p: 1.0 }, "axes"),
        (RandomTranspose { axes: vec![0, 1], p: -1.0 }, "p"),
    ] {
        assert_eq!(param_of(bad.validate()), param, "{bad:?}");
    }
    let all = RandomTranspose::default();
    let mut seen = BTreeMap::<[usize; 3], usize>::new();
    for i in 0..600 {
        *seen.entry(all.sample(&mut rng(i)).axes).or_default() += 1;
    }
    assert_eq!(seen.len(), 6, "every permutation: {seen:?}");
    assert!(seen.values().all(|&n| (60..140).contains(&n)), "uniform: {seen:?}");
    // Only x and z shuffled: y stays in its slot.
    let xz = RandomTranspose { axes: vec![2, 0], p: 1.0 };
    let drawn: BTreeSet<[usize; 3]> = (0..100).map(|i| xz.sample(&mut rng(i)).axes).collect();
    assert_eq!(drawn, [[0, 1, 2], [2, 1, 0]].into_iter().collect());
    let never = RandomTranspose { p: 0.0, ..all };
    assert!((0..20).all(|i| never.sample(&mut rng(i)).axes == [0, 1, 2]));
}

// ------------------------------------------------------------------------------------------
// crop_nonzero
// ------------------------------------------------------------------------------------------

/// A 10x8x6 image, zero but for a block at [3..6, 2..5, 1..3] (one voxel negative).
fn blob_image() -> Array3<f32> {
    let mut a = Array3::<f32>::zeros([10, 8, 6].f());
    a.slice_mut(s![3..6, 2..5, 1..3]).fill(2.0);
    a[[5, 4, 2]] = -1.0;
    a
}

fn crop_nonzero(margin: usize) -> CropNonzero {
    CropNonzero { margin: [margin; 3], ..CropNonzero::default() }
}

#[test]
fn crop_nonzero_cuts_the_numpy_bounding_box_and_moves_the_origin() {
    let data = blob_image();
    let volume = Volume::image3(data.clone(), oblique());
    assert_eq!(nonzero_box(data.view().insert_axis(Axis(3))), Some(([3, 2, 1], [5, 4, 2])));
    let out = crop_nonzero(0).apply(&volume, None).expect("crop");
    assert_eq!(frame(&out), data.slice(s![3..6, 2..5, 1..3]));
    assert!((world(&out.affine, [0, 0, 0]) - world(&oblique(), [3, 2, 1])).norm() < 1e-9);
    // A margin of 1 inside the volume: numpy slicing one voxel wider on each side.
    let out = crop_nonzero(1).apply(&volume, None).expect("crop");
    assert_eq!(frame(&out), data.slice(s![2..7, 1..6, 0..4]));
    assert!((world(&out.affine, [0, 0, 0]) - world(&oblique(), [2, 1, 0])).norm() < 1e-9);
    // Per axis; past the edge: padded with zeros (MONAI >= 1.5), or clipped with allow_smaller.
    let wide = CropNonzero { margin: [0, 0, 2], ..CropNonzero::default() };
    let out = wide.apply(&volume, None).expect("crop");
    assert_eq!(out.shape3(), [3, 3, 6]);
    assert_eq!(frame(&out).slice(s![.., .., 1..5]), data.slice(s![3..6, 2..5, 0..4]));
    assert!(frame(&out).slice(s![.., .., 0]).iter().all(|&v| v == 0.0));
    assert!((world(&out.affine, [0, 0, 1]) - world(&oblique(), [3, 2, 0])).norm() < 1e-9);
    let clipped = CropNonzero { allow_smaller: true, ..wide }.apply(&volume, None).expect("crop");
    assert_eq!(frame(&clipped), data.slice(s![3..6, 2..5, 0..5]));
    // k_divisible: 3x3x2 grown to 4x4x4, centred with the smaller half before (MONAI).
    let k4 = CropNonzero { k_divisible: [4; 3], ..CropNonzero::default() };
    assert_eq!(k4.window_of([10, 8, 6], ([3, 2, 1], [5, 4, 2])), ([3, 2, 0], [4, 4, 4]));
    let out = k4.apply(&volume, None).expect("crop");
    assert_eq!(frame(&out), data.slice(s![3..7, 2..6, 0..4]));
}

#[test]
fn crop_nonzero_takes_the_box_of_like_for_a_label_map_and_unions_the_frames() {
    let data = blob_image();
    let image = Volume::image3(data.clone(), oblique());
    let labels: Array3<u16> = Array3::from_shape_fn([10, 8, 6], |(x, y, z)| ((x + y + z) % 3 * 500) as u16);
    let label_map = Volume::label3(labels.clone(), oblique());
    let out = crop_nonzero(1).apply(&label_map, Some(&image)).expect("crop");
    assert_eq!(out.dtype(), DType::U16);
    let Voxels::Label(LabelArray::U16(a)) = &out.voxels else { panic!("u16") };
    assert_eq!(a.index_axis(Axis(3), 0), labels.slice(s![2..7, 1..6, 0..4]));
    assert!(a.iter().all(|v| [0, 500, 1000].contains(v)), "no new label value");
    // Through the node: the volume's own box without `like`, the image's box with it.
    let run_like = |volume: &Volume, like: Option<&Volume>| {
        let mut ports = vec![("volume", Value::Volume(Arc::new(volume.clone())))];
        if let Some(l) = like {
            ports.push(("like", Value::Volume(Arc::new(l.clone()))));
        }
        run_ports(&crop_nonzero(0), 0, ports).map(volume_of)
    };
    assert_eq!(run_like(&label_map, Some(&image)).expect("crop").shape3(), [3, 3, 2]);
    assert_eq!(run_like(&label_map, None).expect("crop").shape3(), [10, 8, 6], "its own box: everything");
    // Frames: non-zero in any frame counts (nnU-Net's mask over all channels).
    let mut f1 = Array3::<f32>::zeros([10, 8, 6]);
    f1[[9, 0, 0]] = 1.0;
    let series = Volume {
        voxels: Voxels::Image(ndarray::stack(Axis(3), &[data.view(), f1.view()]).expect("stack")),
        affine: oblique(),
        stored_dtype: DType::F32,
    };
    let out = crop_nonzero(0).apply(&series, None).expect("crop");
    assert_eq!(out.shape4(), [7, 5, 3, 2]);
    assert_eq!(out.image().expect("image")[[6, 0, 0, 1]], 1.0);
    // Grids must agree.
    let other = Volume::image3(Array3::zeros([10, 8, 5]), oblique());
    assert_eq!(port_of(crop_nonzero(0).apply(&label_map, Some(&other))), "like");
    assert_eq!(port_of(run_like(&label_map, Some(&other))), "like");
    let mut f = facts([10, 8, 6]);
    f.insert("like".into(), Facts::image(None).with_shape(Some([10, 8, 5])));
    assert_eq!(port_of(crop_nonzero(0).output_shape(&f)), "like");
}

#[test]
fn crop_nonzero_of_an_all_zero_volume_keeps_it_or_fails_as_asked() {
    let zeros = Volume::image3(Array3::zeros([5, 4, 3]), oblique());
    let whole = crop_nonzero(2).apply(&zeros, None).expect("whole");
    assert_eq!(whole.shape3(), [5, 4, 3]);
    assert_eq!(whole.affine, oblique());
    let strict = CropNonzero { if_empty: IfEmpty::Error, ..CropNonzero::default() };
    assert_eq!(port_of(strict.apply(&zeros, None)), "volume");
    let image = Volume::image3(blob_image(), oblique());
    assert_eq!(
        port_of(strict.apply(&image, Some(&Volume::image3(Array3::zeros([10, 8, 6]), oblique())))),
        "like"
    );
    assert_eq!(
        param_of(CropNonzero { k_divisible: [0, 1, 1], ..CropNonzero::default() }.validate()),
        "k_divisible"
    );
    let parsed: CropNonzero =
        serde_json::from_str(r#"{"margin": [1, 2, 3], "k_divisible": 16}"#).expect("parse");
    assert_eq!(parsed.margin, [1, 2, 3]);
    assert_eq!(parsed.k_divisible, [16; 3]);
    assert!(serde_json::from_str::<CropNonzero>(r#"{"margins": 1}"#).is_err());
}

#[test]
fn crop_nonzero_fuses_into_a_pending_volume_when_the_box_comes_from_like() {
    let data = blob_image();
    let image = Arc::new(Volume::image3(data.clone(), oblique()));
    let step = Step { shape: [10, 8, 6], affine: oblique(), out_to_in: Matrix4::identity() };
    let pending =
        spatial::defer(Value::Volume(Arc::clone(&image)), &step, &Resampling::default()).expect("defer");
    let out =
        run_ports(&crop_nonzero(1), 0, vec![("volume", pending.clone()), ("like", Value::Volume(image))])
            .expect("crop");
    assert!(matches!(out, Value::Deferred(_)), "composed into the pending resample");
    assert_eq!(frame(&volume_of(out)), data.slice(s![2..7, 1..6, 0..4]));
    // Without `like` the pending volume is resampled to find its box.
    let out = volume_of(run(&crop_nonzero(1), pending).expect("crop"));
    assert_eq!(frame(&out), data.slice(s![2..7, 1..6, 0..4]));
}

// ------------------------------------------------------------------------------------------
// random_foreground_crop with class_ratios
// ------------------------------------------------------------------------------------------

/// Label 1: a big block; 2: a small block; 3: one voxel.
fn three_classes() -> LabelArray {
    let mut a = Array3::<u8>::zeros([30, 30, 30]);
    a.slice_mut(s![0..10, 0..10, 0..10]).fill(1);
    a.slice_mut(s![20..22, 20..22, 20..22]).fill(2);
    a[[25, 5, 25]] = 3;
    a.insert_axis(Axis(3)).into_label_array()
}

fn class_at(l: &LabelArray, c: &Crop, size: usize) -> u8 {
    // The drawn centre is start + size / 2 unless clamped: read the class that the box holds
    // besides 0 (the blocks are far apart, so a box of 4 holds one class).
    let LabelArray::U8(a) = l else { panic!("u8") };
    let st = c.start.expect("start").map(|v| v as usize);
    let b = a.slice(s![st[0]..st[0] + size, st[1]..st[1] + size, st[2]..st[2] + size, 0]);
    let classes: BTreeSet<u8> = b.iter().copied().filter(|&v| v != 0).collect();
    assert_eq!(classes.len(), 1, "{c:?}: {classes:?}");
    *classes.iter().next().expect("one")
}

#[test]
fn class_ratios_choose_the_class_by_weight_among_those_present() {
    let l = three_classes();
    let base = RandomForegroundCrop {
        size: [4, 4, 4],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: None,
    };
    let with = |ratios: &[(i64, f64)]| RandomForegroundCrop {
        class_ratios: Some(ratios.iter().copied().collect()),
        ..base.clone()
    };
    // Only class 3 weighted: always its one voxel.
    let only3 = with(&[(3, 1.0), (1, 0.0)]);
    assert!((0..50).all(|i| class_at(&l, &only3.sample(&mut rng(i), &l).expect("draw"), 4) == 3));
    // 1 : 3 between classes 1 and 2, class 9 absent (its weight does not count).
    let op = with(&[(1, 1.0), (2, 3.0), (9, 100.0)]);
    let mut n = BTreeMap::<u8, usize>::new();
    for i in 0..800 {
        *n.entry(class_at(&l, &op.sample(&mut rng(i), &l).expect("draw"), 4)).or_default() += 1;
    }
    assert_eq!(n.keys().copied().collect::<Vec<_>>(), vec![1, 2], "{n:?}");
    assert!((150..250).contains(&n[&1]), "about a quarter: {n:?}");
    // Background may be a class (MONAI's ratios include it): a box centred on a 0 voxel.
    let bg = with(&[(0, 1.0)]);
    let LabelArray::U8(a) = &l else { panic!() };
    for i in 0..30 {
        let c = bg.sample(&mut rng(i), &l).expect("draw");
        let st = c.start.expect("start");
        let centre: [usize; 3] = std::array::from_fn(|k| (st[k] + 2) as usize);
        // The centre (clamped boxes aside: none clamp here unless near the edge) is background.
        if st.iter().all(|&v| v > 0 && v < 26) {
            assert_eq!(a[[centre[0], centre[1], centre[2], 0]], 0);
        }
    }
    // No weighted class present: the uniform corner, as without foreground.
    let absent = with(&[(9, 1.0)]);
    assert!((0..20).all(|i| absent.sample(&mut rng(i), &l).is_ok()));
}

#[test]
fn class_ratios_are_checked_and_absent_means_the_old_draws() {
    let base = RandomForegroundCrop {
        size: [4, 4, 4],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: None,
    };
    let ratios = |r: &[(i64, f64)]| Some(r.iter().copied().collect::<BTreeMap<i64, f64>>());
    for bad in [
        RandomForegroundCrop { class_ratios: ratios(&[(1, -1.0)]), ..base.clone() },
        RandomForegroundCrop { class_ratios: ratios(&[(1, f64::NAN)]), ..base.clone() },
        RandomForegroundCrop { class_ratios: ratios(&[(1, 0.0)]), ..base.clone() },
        RandomForegroundCrop { class_ratios: ratios(&[]), ..base.clone() },
        RandomForegroundCrop { class_ratios: ratios(&[(1, 1.0)]), balanced_classes: true, ..base.clone() },
        RandomForegroundCrop { class_ratios: ratios(&[(1, 1.0)]), labels: Some(vec![1]), ..base.clone() },
    ] {
        assert_eq!(param_of(bad.validate()), "class_ratios", "{bad:?}");
    }
    let parsed: RandomForegroundCrop =
        serde_json::from_str(r#"{"size": [4, 4, 4], "class_ratios": {"0": 1, "2": 2.5}}"#).expect("parse");
    assert_eq!(parsed.class_ratios, ratios(&[(0, 1.0), (2, 2.5)]));
    // Serialised without the field when absent (old manifests and graphs read the same).
    let json = serde_json::to_string(&base).expect("json");
    assert!(!json.contains("class_ratios"), "{json}");
}

// ------------------------------------------------------------------------------------------
// random_weighted_crop
// ------------------------------------------------------------------------------------------

fn weights(shape: [usize; 3], at: &[([usize; 3], f32)]) -> Array3<f32> {
    let mut w = Array3::<f32>::zeros(shape.f());
    for &(i, v) in at {
        w[i] = v;
    }
    w
}

#[test]
fn weighted_crop_centres_on_weighted_voxels_in_proportion() {
    let op = RandomWeightedCrop { size: [4, 6, 2] };
    // One positive voxel: the box is centred on it (start = centre - size / 2, MONAI).
    let w = weights([20, 20, 10], &[([7, 9, 5], 0.25)]);
    for i in 0..10 {
        let c = op.sample(&mut rng(i), w.view()).expect("draw");
        assert_eq!(c.start, Some([5, 6, 4]));
        assert_eq!(c.size, [4, 6, 2]);
        assert!(!c.pad);
    }
    // 1 : 3.
    let w = weights([20, 20, 10], &[([5, 5, 5], 1.0), ([14, 14, 5], 3.0)]);
    let heavy = (0..800)
        .filter(|&i| op.sample(&mut rng(i), w.view()).expect("draw").start == Some([12, 11, 4]))
        .count();
    assert!((540..660).contains(&heavy), "about three quarters: {heavy}");
    // Outside the valid region (the box would not fit): not drawable; all-zero valid region
    // falls back to a uniform centre there (MONAI), every box inside the volume.
    let w = weights([20, 20, 10], &[([0, 0, 0], 5.0)]);
    let starts: BTreeSet<[i64; 3]> =
        (0..50).map(|i| op.sample(&mut rng(i), w.view()).expect("draw").start.expect("start")).collect();
    assert!(starts.len() > 10, "uniform: {starts:?}");
    assert!(
        starts
            .iter()
            .all(|s| (0..=16).contains(&s[0]) && (0..=14).contains(&s[1]) && (0..=8).contains(&s[2]))
    );
    // A box larger than the volume on an axis: padded, centred there.
    let big = RandomWeightedCrop { size: [24, 2, 2] };
    let w = weights([20, 20, 10], &[([3, 9, 5], 1.0)]);
    let c = big.sample(&mut rng(0), w.view()).expect("draw");
    assert!(c.pad);
    assert_eq!(c.start, Some([-2, 8, 4]));
}

#[test]
fn weighted_crop_refuses_bad_weights_naming_the_port_and_runs_as_a_node() {
    let op = RandomWeightedCrop { size: [2, 2, 2] };
    for bad in [-1.0f32, f32::NAN, f32::INFINITY] {
        let w = weights([6, 6, 6], &[([3, 3, 3], bad)]);
        assert_eq!(port_of(op.sample(&mut rng(0), w.view())), "weights", "{bad}");
    }
    assert_eq!(param_of(RandomWeightedCrop { size: [0, 2, 2] }.validate()), "size");
    // As a node: the weight image on `weights`, a `Crop` draw out; a series is refused.
    let w = Arc::new(Volume::image3(weights([6, 6, 6], &[([2, 3, 4], 1.0)]), oblique()));
    let draw = match run_ports(&op, 1, vec![("weights", Value::Volume(w))]).expect("draw") {
        Value::Draw(d) => d,
        other => panic!("{:?}", other.kind()),
    };
    let image = Volume::image3(ramp([6, 6, 6], true), oblique());
    let mut inputs = vec![("volume", Value::Volume(Arc::new(image.clone())))];
    let out = {
        let materialize = |d: &voxflow_core::Deferred| spatial::materialize(d).map_err(OpError::from);
        let case_inputs = BTreeMap::new();
        let mut ctx = RunContext {
            node: "apply",
            case_id: "case",
            output_index: 0,
            rng: rng(0),
            case_inputs: &case_inputs,
            output_dir: Path::new("."),
            written: Vec::new(),
            materialize: &materialize,
        };
        let mut i = Inputs::default();
        let (name, v) = inputs.remove(0);
        i.0.insert(name.into(), v);
        volume_of(draw.run(&mut ctx, i).expect("apply"))
    };
    assert_eq!(out.shape3(), [2, 2, 2]);
    assert_eq!(frame(&out)[[1, 1, 1]], ramp([6, 6, 6], false)[[2, 3, 4]], "centred on the weighted voxel");
    let series = Volume {
        voxels: Voxels::Image(Array4::zeros([6, 6, 6, 2])),
        affine: oblique(),
        stored_dtype: DType::F32,
    };
    assert_eq!(port_of(run_ports(&op, 1, vec![("weights", Value::Volume(Arc::new(series)))])), "weights");
    assert_eq!(op.ports()[0].name, "weights");
    assert_eq!(op.ports()[0].accepts, &[Kind::Image]);
}

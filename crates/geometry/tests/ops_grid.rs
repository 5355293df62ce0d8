//! Exact grid ops (flip, crop, pad, crop_or_pad): numpy parity, world positions, label
//! values, layouts, errors, and fusion with a pending resample.

use nalgebra::{Matrix4, Vector4};
use ndarray::{Array3, ArrayView3, Axis, ShapeBuilder, Slice, s};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{Affine, Inputs, LabelArray, Op, OpError, RunContext, Value, Volume, Voxels, with_labels};
use voxflow_geometry::crop::{Crop, crop};
use voxflow_geometry::crop_or_pad::CropOrPad;
use voxflow_geometry::flip::{Axes, Flip, flip, flip_axes};
use voxflow_geometry::pad::{Pad, PadMode, pad};
use voxflow_geometry::spatial::{self, Resampling, Step};

/// An oblique, anisotropic affine (so a wrong origin or axis order shows).
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

/// `0, 1, 2, ...` in logical (C) order, stored in C or Fortran memory order.
fn ramp(shape: [usize; 3], fortran: bool) -> Array3<f32> {
    let mut a = Array3::zeros(shape.set_f(fortran));
    let [_, ny, nz] = shape;
    for ((x, y, z), v) in a.indexed_iter_mut() {
        *v = ((x * ny + y) * nz + z) as f32;
    }
    a
}

fn labels(shape: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_fn(shape, |(x, y, z)| [0u8, 0, 3, 7][(x + 2 * y + z) % 4])
}

/// World position of the (unique) maximum voxel of an image.
fn landmark(v: &Volume) -> Vector4<f64> {
    let Voxels::Image(a) = &v.voxels else { panic!("image expected") };
    let (idx, _) = a.indexed_iter().max_by(|x, y| x.1.total_cmp(y.1)).expect("non-empty");
    v.affine * Vector4::new(idx.0 as f64, idx.1 as f64, idx.2 as f64, 1.0)
}

fn spike(shape: [usize; 3], at: [usize; 3]) -> Volume {
    let mut a = Array3::<f32>::from_elem(shape.f(), 1.0);
    a[at] = 100.0;
    Volume::image3(a, oblique())
}

fn close(a: Vector4<f64>, b: Vector4<f64>) {
    assert!((a - b).norm() < 1e-9, "{a:?} != {b:?}");
}

fn label_set(l: &LabelArray) -> BTreeSet<i128> {
    with_labels!(l, |a: T| a.iter().map(|v| voxflow_core::LabelType::to_i128(*v)).collect())
}

fn image(v: &Volume) -> ArrayView3<'_, f32> {
    v.image().expect("image").index_axis(Axis(3), 0)
}

#[test]
fn flip_equals_numpy_flip_for_every_axis_and_layout() {
    for fortran in [false, true] {
        let a = ramp([5, 6, 7], fortran);
        for axis in 0..3 {
            let expected = a.slice_axis(Axis(axis), Slice::new(0, None, -1));
            let got = flip(a.view(), axis);
            assert_eq!(got, expected, "axis {axis}, fortran {fortran}");
            assert_eq!(got.t().is_standard_layout(), fortran, "memory order kept");
        }
        let mut expected = a.view();
        expected.invert_axis(Axis(0));
        expected.invert_axis(Axis(2));
        assert_eq!(flip_axes(a.view(), [true, false, true]), expected);
        // A non-contiguous view.
        let strided = a.slice(s![..;2, .., 1..]);
        assert_eq!(flip(strided, 1), strided.slice_axis(Axis(1), Slice::new(0, None, -1)));
    }
}

#[test]
fn flip_twice_is_identity_and_keeps_the_affine() {
    let image = Volume::image3(ramp([4, 5, 6], true), oblique());
    let label = Volume::label3(labels([4, 5, 6]), oblique());
    for v in [image, label] {
        for axis in [Axes::One(0), Axes::One(2), Axes::Many(vec![0, 1, 2])] {
            let f = Flip { axis };
            let once = f.apply(&v).expect("flip");
            assert_eq!(once.affine, v.affine);
            assert_ne!(once.voxels, v.voxels);
            assert_eq!(f.apply(&once).expect("flip"), v);
        }
    }
}

#[test]
fn crop_equals_numpy_slicing() {
    for fortran in [false, true] {
        let a = ramp([9, 8, 7], fortran);
        let got = crop(a.view(), [2, 1, 3], [5, 6, 4]);
        assert_eq!(got, a.slice(s![2..7, 1..7, 3..7]));
        assert_eq!(got.t().is_standard_layout(), fortran);
    }
}

#[test]
fn pad_equals_numpy_pad_for_each_mode() {
    // np.pad(np.arange(4) * 10 + 1, (6, 7), mode)
    let cases: [(PadMode, [f32; 17]); 3] = [
        (PadMode::Edge, [1., 1., 1., 1., 1., 1., 1., 11., 21., 31., 31., 31., 31., 31., 31., 31., 31.]),
        (
            PadMode::Reflect,
            [1., 11., 21., 31., 21., 11., 1., 11., 21., 31., 21., 11., 1., 11., 21., 31., 21.],
        ),
        (
            PadMode::Symmetric,
            [21., 31., 31., 21., 11., 1., 1., 11., 21., 31., 31., 21., 11., 1., 1., 11., 21.],
        ),
    ];
    let line = [1.0f32, 11.0, 21.0, 31.0];
    for axis in 0..3 {
        let mut shape = [1, 1, 1];
        shape[axis] = 4;
        let a = Array3::from_shape_vec(shape, line.to_vec()).expect("shape");
        let (mut before, mut after) = ([0; 3], [0; 3]);
        before[axis] = 6;
        after[axis] = 7;
        for (mode, expected) in &cases {
            let got = pad(a.view(), before, after, *mode, 0.0);
            assert_eq!(got.iter().copied().collect::<Vec<_>>(), expected.to_vec(), "{mode:?} axis {axis}");
        }
        let got = pad(a.view(), before, after, PadMode::Constant, -5.0);
        let mut expected = vec![-5.0; 17];
        expected[6..10].copy_from_slice(&line);
        assert_eq!(got.iter().copied().collect::<Vec<_>>(), expected);
    }
    // A single voxel reflects onto itself (numpy).
    let one = Array3::from_elem([1, 1, 1], 5.0f32);
    assert!(pad(one.view(), [2, 0, 0], [3, 0, 0], PadMode::Reflect, 0.0).iter().all(|&v| v == 5.0));
}

#[test]
fn grid_ops_keep_a_landmark_in_world_space() {
    let v = spike([12, 10, 9], [5, 4, 6]);
    let world = landmark(&v);
    let ops: Vec<(&str, Volume)> = vec![
        ("crop", Crop { start: Some([2, 3, 1]), size: [6, 5, 7], ..crop_params() }.apply(&v).expect("crop")),
        ("centre crop", Crop { start: None, size: [7, 6, 5], ..crop_params() }.apply(&v).expect("crop")),
        (
            "pad",
            Pad { before: [3, 0, 2], after: [1, 4, 0], mode: PadMode::Constant, value: 0.0 }
                .apply(&v)
                .expect("pad"),
        ),
        (
            "crop_or_pad",
            CropOrPad { shape: [15, 7, 10], mode: PadMode::Edge, value: 0.0 }.apply(&v).expect("crop_or_pad"),
        ),
    ];
    for (name, out) in ops {
        close(landmark(&out), world);
        assert_eq!(out.kind(), v.kind(), "{name}");
    }
}

fn crop_params() -> Crop {
    Crop { start: None, size: [1, 1, 1], pad: false, mode: PadMode::Constant, value: 0.0 }
}

#[test]
fn crop_or_pad_is_centred_like_torchio() {
    // TorchIO CropOrPad: an odd difference cuts or adds the extra voxel before.
    let v = Volume::image3(ramp([10, 7, 8], true), Affine::identity());
    let out = CropOrPad { shape: [7, 10, 8], mode: PadMode::Constant, value: -1.0 }.apply(&v).expect("ok");
    assert_eq!(out.shape3(), [7, 10, 8]);
    // x: 10 -> 7 cuts 2 before, 1 after; y: 7 -> 10 adds 2 before, 1 after.
    assert_eq!(out.affine.column(3).xyz(), nalgebra::Vector3::new(2.0, -2.0, 0.0));
    let a = image(&out);
    assert_eq!(a[[0, 0, 0]], -1.0);
    assert_eq!(a[[0, 2, 0]], ramp([10, 7, 8], false)[[2, 0, 0]]);
    assert_eq!(a.slice(s![.., 9, ..]).iter().filter(|&&x| x == -1.0).count(), 7 * 8);
}

#[test]
fn label_maps_keep_their_type_and_never_gain_a_value() {
    let l = Volume::label3(labels([9, 8, 7]), oblique());
    let Voxels::Label(src) = &l.voxels else { unreachable!() };
    let before = label_set(src);
    let outs = [
        Flip { axis: Axes::One(1) }.apply(&l).expect("flip"),
        Crop { start: Some([1, 2, 3]), size: [4, 4, 4], ..crop_params() }.apply(&l).expect("crop"),
        Pad { before: [2, 2, 2], after: [1, 1, 1], mode: PadMode::Reflect, value: 0.0 }
            .apply(&l)
            .expect("pad"),
        CropOrPad { shape: [12, 5, 7], mode: PadMode::Constant, value: 0.0 }.apply(&l).expect("crop_or_pad"),
    ];
    for out in outs {
        let Voxels::Label(got) = &out.voxels else { panic!("a label map stays a label map") };
        assert_eq!(got.dtype(), voxflow_core::DType::U8);
        assert!(label_set(got).is_subset(&before));
    }
    // i16 labels too.
    let l16 = Volume::label3(labels([5, 5, 5]).mapv(|v| i16::from(v) - 3), Affine::identity());
    let out = Flip { axis: Axes::One(0) }.apply(&l16).expect("flip");
    assert_eq!(out.dtype(), voxflow_core::DType::I16);
}

fn param_of(e: &OpError) -> &'static str {
    match e {
        OpError::Param { param, .. } => param,
        other => panic!("expected a parameter error, got {other}"),
    }
}

#[test]
fn bad_parameters_name_the_parameter() {
    let v = Volume::image3(ramp([6, 6, 6], false), Affine::identity());
    let too_big = Crop { size: [7, 6, 6], ..crop_params() }.apply(&v).expect_err("too big");
    assert_eq!(param_of(&too_big), "size");
    assert!(too_big.to_string().contains("pad: true"), "{too_big}");
    let outside =
        Crop { start: Some([-1, 0, 0]), size: [2, 2, 2], ..crop_params() }.apply(&v).expect_err("start");
    assert_eq!(param_of(&outside), "start");
    let zero = Crop { size: [0, 2, 2], ..crop_params() }.apply(&v).expect_err("zero");
    assert_eq!(param_of(&zero), "size");
    // With padding the same box works.
    let padded = Crop { size: [7, 6, 6], pad: true, ..crop_params() }.apply(&v).expect("pad");
    assert_eq!(padded.shape3(), [7, 6, 6]);
    assert_eq!(param_of(&Flip { axis: Axes::One(3) }.validate().expect_err("axis")), "axis");
    let l = Volume::label3(labels([4, 4, 4]), Affine::identity());
    let bad_fill = Pad { before: [1, 1, 1], after: [0, 0, 0], mode: PadMode::Constant, value: -1.0 };
    assert_eq!(param_of(&bad_fill.apply(&l).expect_err("u8 cannot hold -1")), "value");
    // Unknown keys are rejected when a graph is parsed.
    let parsed: Result<Box<dyn Op>, _> =
        serde_json::from_str(r#"{"op": "crop", "params": {"size": [2, 2, 2], "strat": [0, 0, 0]}}"#);
    assert!(parsed.expect_err("unknown field").to_string().contains("strat"));
}

#[test]
fn params_parse_from_graph_json() {
    let ops: Vec<Box<dyn Op>> = serde_json::from_str(
        r#"[{"op": "flip", "params": {"axis": 1}}, {"op": "flip", "params": {"axes": [0, 2]}},
            {"op": "crop", "params": {"size": [2, 3, 4]}}, {"op": "pad", "params": {"before": [1, 1, 1], "mode": "reflect"}},
            {"op": "crop_or_pad", "params": {"shape": [8, 8, 8], "mode": "edge"}}, {"op": "reorient", "params": {}}]"#,
    )
    .expect("parse");
    for op in &ops {
        op.validate().expect("valid");
    }
    assert_eq!(format!("{:?}", ops[1]), "Flip { axis: Many([0, 2]) }");
}

fn run(op: &dyn Op, input: Value) -> Result<Value, OpError> {
    let materialize = |d: &voxflow_core::Deferred| spatial::materialize(d).map_err(OpError::from);
    let case_inputs = BTreeMap::new();
    let mut ctx = RunContext {
        node: "node",
        case_id: "case",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 1, case_id: "case", output_index: 0, node: "node" }),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let mut inputs = Inputs::default();
    inputs.0.insert("volume".into(), input);
    op.run(&mut ctx, inputs)
}

fn volume_of(v: Value) -> Volume {
    match v {
        Value::Volume(v) => (*v).clone(),
        Value::Deferred(d) => spatial::materialize(&d).expect("resample"),
        Value::Draw(_) => panic!("a draw"),
    }
}

#[test]
fn grid_ops_compose_into_a_pending_resample() {
    // A pending identity resample (nearest, so the composed result is exact).
    let v = Arc::new(Volume::image3(ramp([9, 8, 7], true), oblique()));
    let settings =
        Resampling { interpolation: voxflow_core::Interpolation::Nearest, ..Resampling::default() };
    let step = Step { shape: v.shape3(), affine: v.affine, out_to_in: Matrix4::identity() };
    let pending = spatial::defer(Value::Volume(Arc::clone(&v)), &step, &settings).expect("defer");
    let ops: Vec<Box<dyn Op>> = vec![
        Box::new(Flip { axis: Axes::Many(vec![0, 2]) }),
        Box::new(Crop { start: Some([1, 2, 3]), size: [5, 4, 3], ..crop_params() }),
        Box::new(CropOrPad { shape: [7, 6, 5], mode: PadMode::Constant, value: 0.0 }),
        Box::new(voxflow_geometry::reorient::Reorient {}),
    ];
    for op in ops {
        let lazy = run(op.as_ref(), pending.clone()).expect("lazy");
        assert!(matches!(lazy, Value::Deferred(_)), "{op:?} should compose");
        let eager = run(op.as_ref(), Value::Volume(Arc::clone(&v))).expect("eager");
        assert!(matches!(eager, Value::Volume(_)));
        assert_eq!(volume_of(lazy), volume_of(eager), "{op:?}");
    }
    // A window that leaves the grid needs padding: resampled first, then padded.
    let op = Crop { start: Some([-2, 0, 0]), size: [5, 4, 3], pad: true, ..crop_params() };
    let out = run(&op, pending.clone()).expect("pad");
    assert!(matches!(out, Value::Volume(_)));
    assert_eq!(volume_of(out), op.apply(&v).expect("pad"));
    // The identity flip passes a pending value through untouched.
    assert!(matches!(run(&Flip { axis: Axes::Many(vec![]) }, pending).expect("id"), Value::Deferred(_)));
}

#[test]
fn four_d_volumes_are_processed_frame_by_frame() {
    let frames: Vec<Array3<f32>> =
        (0..3).map(|t| ramp([4, 5, 6], true).mapv(|v| v + 1000.0 * t as f32)).collect();
    let data = voxflow_core::volume::stack_frames(&frames);
    let v = Volume { voxels: Voxels::Image(data), affine: oblique(), stored_dtype: voxflow_core::DType::F32 };
    let out = Crop { start: Some([1, 1, 1]), size: [2, 3, 4], ..crop_params() }.apply(&v).expect("crop");
    assert_eq!(out.shape4(), [2, 3, 4, 3]);
    let a = out.image().expect("image");
    for (t, frame) in frames.iter().enumerate() {
        assert_eq!(a.index_axis(Axis(3), t), frame.slice(s![1..3, 1..4, 1..5]));
    }
}

/// Σ v · (x + 7y + 13z), as the Python that made the expected values computes it.
fn checksum(a: ArrayView3<'_, f32>) -> f64 {
    a.indexed_iter().map(|((x, y, z), &v)| f64::from(v) * (x + 7 * y + 13 * z) as f64).sum()
}

#[test]
fn flip_and_crop_match_numpy_on_the_sample() {
    // The scipy/numpy reference cases `flip_axis{0,1,2}` (numpy.flip(x, axis)) and
    // `crop_5_6_7_size_32_40_30` (x[5:37, 6:46, 7:37]), as checksums computed with numpy.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/someones_anatomy.nii.gz");
    let v = voxflow_io_nifti::read(path, voxflow_core::Kind::Image).expect("sample");
    let expected = [5_928_819_263.817_11, 5_978_558_515.903_156, 6_150_139_059.847_152];
    for (axis, want) in expected.into_iter().enumerate() {
        let out = Flip { axis: Axes::One(axis) }.apply(&v).expect("flip");
        assert_eq!(out.affine, v.affine);
        let got = checksum(image(&out));
        assert!((got - want).abs() <= 1e-9 * want, "axis {axis}: {got} != {want}");
    }
    let crop = Crop { start: Some([5, 6, 7]), size: [32, 40, 30], ..crop_params() };
    let out = crop.apply(&v).expect("crop");
    assert_eq!(out.shape3(), [32, 40, 30]);
    let want = 818_319_265.997_175_2;
    assert!((checksum(image(&out)) - want).abs() <= 1e-9 * want);
    // The new origin is the world position of voxel (5, 6, 7).
    close(out.affine.column(3).into_owned(), v.affine * Vector4::new(5.0, 6.0, 7.0, 1.0));
}

#[test]
fn outputs_do_not_depend_on_the_thread_count() {
    let a = ramp([33, 20, 17], true);
    let l = labels([33, 20, 17]);
    let run_all = || {
        (
            flip_axes(a.view(), [true, true, true]),
            crop(a.view(), [3, 2, 1], [20, 15, 10]),
            pad(a.view(), [4, 0, 2], [1, 3, 0], PadMode::Reflect, 0.0),
            flip(l.view(), 2),
            voxflow_geometry::reorient::reorient(
                a.view(),
                &voxflow_geometry::reorient::Orientation { axis: [1, 2, 0], flip: [true, false, true] },
            ),
        )
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool").install(run_all);
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().expect("pool").install(run_all);
    assert_eq!(one, four);
}

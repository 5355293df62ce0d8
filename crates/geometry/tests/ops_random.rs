//! Random grid ops: random_flip, random_crop, random_foreground_crop. Draws are seeded, shared
//! by image and label through `apply`, and always describe a valid crop.

use ndarray::{Array3, Axis, s};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, Rng, rng_for};
use voxflow_core::{Affine, Apply, Inputs, Kind, LabelArray, Op, OpError, RunContext, Value, Volume, Voxels};
use voxflow_geometry::crop::{Crop, RandomCrop};
use voxflow_geometry::flip::{Axes, Flip, RandomFlip};
use voxflow_geometry::foreground_crop::RandomForegroundCrop;
use voxflow_geometry::spatial;

fn rng(i: u64) -> Rng {
    rng_for(&DrawKey { graph_seed: 42, case_id: "case", output_index: i, node: "draw" })
}

fn run_with(op: &dyn Op, seed: u64, ports: Vec<(&str, Value)>) -> Result<Value, OpError> {
    let materialize = |d: &voxflow_core::Deferred| spatial::materialize(d).map_err(OpError::from);
    let case_inputs = BTreeMap::new();
    let mut ctx = RunContext {
        node: "draw",
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

fn draw_of(v: Value) -> Arc<dyn Op> {
    match v {
        Value::Draw(d) => d,
        other => panic!("expected a draw, got {:?}", other.kind()),
    }
}

fn volume_of(v: Value) -> Volume {
    match v {
        Value::Volume(v) => (*v).clone(),
        Value::Deferred(d) => spatial::materialize(&d).expect("resample"),
        Value::Draw(_) => panic!("a draw"),
    }
}

fn ramp(shape: [usize; 3]) -> Array3<f32> {
    Array3::from_shape_fn(shape, |(x, y, z)| (x * 10000 + y * 100 + z) as f32)
}

#[test]
fn random_flip_is_seeded_and_respects_p_and_axes() {
    let op = RandomFlip::default();
    let draws: Vec<Flip> = (0..200).map(|i| op.sample(&mut rng(i))).collect();
    let again: Vec<Flip> = (0..200).map(|i| op.sample(&mut rng(i))).collect();
    assert_eq!(draws, again, "same seed, same draws");
    let per_axis: Vec<usize> = (0..3).map(|a| draws.iter().filter(|f| f.axis.mask()[a]).count()).collect();
    for n in &per_axis {
        assert!((60..140).contains(n), "p = 0.5 per axis: {per_axis:?}");
    }
    let never = RandomFlip { axes: vec![0, 2], p: 1.0, one_axis: false };
    assert!((0..20).all(|i| never.sample(&mut rng(i)).axis.mask() == [true, false, true]));
    // The tutorial: exactly one random axis.
    let one = RandomFlip { axes: vec![0, 1, 2], p: 1.0, one_axis: true };
    let masks: Vec<[bool; 3]> = (0..60).map(|i| one.sample(&mut rng(i)).axis.mask()).collect();
    assert!(masks.iter().all(|m| m.iter().filter(|&&b| b).count() == 1));
    assert!((0..3).all(|a| masks.iter().any(|m| m[a])));
    let none = RandomFlip { p: 0.0, ..RandomFlip::default() };
    assert_eq!(none.sample(&mut rng(0)).axis, Axes::Many(vec![]));
    assert!(RandomFlip { p: 1.5, ..RandomFlip::default() }.validate().is_err());
    assert!(RandomFlip { axes: vec![3], ..RandomFlip::default() }.validate().is_err());
}

#[test]
fn image_and_label_share_one_draw_through_apply() {
    let image = Arc::new(Volume::image3(ramp([6, 5, 4]), Affine::identity()));
    let label =
        Arc::new(Volume::label3(ramp([6, 5, 4]).mapv(|v| (v as u32 % 251) as u8), Affine::identity()));
    for seed in 0..8 {
        let flip = draw_of(run_with(&RandomFlip::default(), seed, vec![]).expect("draw"));
        let crop = draw_of(
            run_with(
                &RandomCrop { size: [3, 5, 2] },
                seed,
                vec![("like", Value::Volume(Arc::clone(&image)))],
            )
            .expect("draw"),
        );
        for draw in [flip, crop] {
            let apply = |v: &Arc<Volume>| {
                volume_of(
                    run_with(
                        &Apply {},
                        seed,
                        vec![
                            ("volume", Value::Volume(Arc::clone(v))),
                            ("draw", Value::Draw(Arc::clone(&draw))),
                        ],
                    )
                    .expect("apply"),
                )
            };
            let (i, l) = (apply(&image), apply(&label));
            let Voxels::Label(LabelArray::U8(l)) = &l.voxels else { panic!("u8 labels") };
            let from_image = i.image().expect("image").mapv(|v| (v as u32 % 251) as u8);
            assert_eq!(&from_image, l, "{draw:?}");
        }
    }
}

#[test]
fn random_crop_fits_and_takes_full_axes_whole() {
    let shape = [10, 7, 5];
    let op = RandomCrop { size: [4, 7, 1] };
    let mut seen_x = [false; 7];
    for i in 0..200 {
        let c = op.sample(&mut rng(i), shape).expect("fits");
        let start = c.start.expect("a corner");
        assert_eq!(start[1], 0, "a full-size axis is taken whole");
        assert!((0..=6).contains(&start[0]) && (0..=4).contains(&start[2]));
        seen_x[start[0] as usize] = true;
    }
    assert!(seen_x.iter().all(|&b| b), "every corner is drawn: {seen_x:?}");
    match op.sample(&mut rng(0), [3, 7, 5]) {
        Err(OpError::Param { param, .. }) => assert_eq!(param, "size"),
        other => panic!("{other:?}"),
    }
}

/// A label map: background 0, a big class 1 and a one-voxel class 9 in a corner.
fn blobs() -> Array3<u8> {
    let mut a = Array3::<u8>::zeros([40, 30, 20]);
    a.slice_mut(s![5..15, 5..15, 5..10]).fill(1);
    a[[38, 28, 18]] = 9;
    a
}

fn contains(c: &Crop, at: [usize; 3]) -> bool {
    let start = c.start.expect("a corner");
    (0..3).all(|a| start[a] <= at[a] as i64 && (at[a] as i64) < start[a] + c.size[a] as i64)
}

#[test]
fn foreground_crop_always_contains_foreground_when_p_is_one() {
    let labels = Volume::label3(blobs(), Affine::identity());
    let Voxels::Label(l) = &labels.voxels else { unreachable!() };
    let op = RandomForegroundCrop {
        size: [8, 8, 8],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: None,
    };
    let mut hit_small = 0;
    for i in 0..100 {
        let c = op.sample(&mut rng(i), l).expect("draw");
        assert!(!c.pad, "the box fits");
        let out = c.apply(&labels).expect("crop");
        let Voxels::Label(LabelArray::U8(a)) = &out.voxels else { panic!() };
        assert!(a.iter().any(|&v| v != 0), "draw {i}: {c:?}");
        hit_small += usize::from(contains(&c, [38, 28, 18]));
    }
    // 1 of 501 foreground voxels: rarely picked without balancing.
    assert!(hit_small < 5, "{hit_small}");
    // Balanced: the one-voxel class is picked about half the time.
    let balanced = RandomForegroundCrop { balanced_classes: true, ..op.clone() };
    let hits =
        (0..100).filter(|&i| contains(&balanced.sample(&mut rng(i), l).expect("draw"), [38, 28, 18])).count();
    assert!((30..70).contains(&hits), "{hits}");
    // Only label 9 counts.
    let only9 = RandomForegroundCrop { labels: Some(vec![9]), ..op };
    assert!((0..20).all(|i| contains(&only9.sample(&mut rng(i), l).expect("draw"), [38, 28, 18])));
}

#[test]
fn foreground_crop_falls_back_to_uniform_on_an_empty_map() {
    let empty = LabelArray::U8(Array3::<u8>::zeros([12, 10, 8]).insert_axis(Axis(3)));
    let op = RandomForegroundCrop {
        size: [4, 4, 4],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: None,
    };
    let starts: Vec<[i64; 3]> =
        (0..50).map(|i| op.sample(&mut rng(i), &empty).expect("fallback").start.expect("corner")).collect();
    assert!(
        starts.iter().all(|s| (0..=8).contains(&s[0]) && (0..=6).contains(&s[1]) && (0..=4).contains(&s[2]))
    );
    assert!(starts.iter().any(|s| s != &starts[0]), "uniform, not fixed");
    // A box larger than the map is padded, centred.
    let big = RandomForegroundCrop { size: [16, 4, 4], ..op };
    let c = big.sample(&mut rng(0), &empty).expect("padded");
    assert!(c.pad);
    assert_eq!(c.start.expect("corner")[0], -2);
}

#[test]
fn foreground_crop_runs_as_a_node_and_checks_its_parameters() {
    let labels = Arc::new(Volume::label3(blobs(), Affine::identity()));
    let op = RandomForegroundCrop {
        size: [8, 8, 8],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: None,
    };
    let draw = draw_of(run_with(&op, 3, vec![("like", Value::Volume(Arc::clone(&labels)))]).expect("draw"));
    assert_eq!(op.output_kind(&BTreeMap::new()).expect("kind"), Kind::Draw);
    assert!(format!("{draw:?}").starts_with("Crop"));
    let image = Arc::new(Volume::image3(Array3::zeros([40, 30, 20]), Affine::identity()));
    assert!(run_with(&op, 3, vec![("like", Value::Volume(image))]).is_err(), "like must be a label map");
    for (bad, param) in [
        (RandomForegroundCrop { p_foreground: -0.1, ..op.clone() }, "p_foreground"),
        (RandomForegroundCrop { size: [0, 8, 8], ..op.clone() }, "size"),
        (RandomForegroundCrop { labels: Some(vec![]), ..op.clone() }, "labels"),
    ] {
        match bad.validate() {
            Err(OpError::Param { param: p, .. }) => assert_eq!(p, param),
            other => panic!("{other:?}"),
        }
    }
}

//! Previews of the sample volumes: summaries snapshotted, and a look by eye
//! (`VOXFLOW_PREVIEW_DIR=dir cargo test -p voxflow-preview` writes the PNGs there).

use image::RgbImage;
use std::fmt::Write as _;
use voxflow_core::Kind;
use voxflow_preview::{PreviewOptions, describe, render};

fn data(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Size, mean colour and a coarse 8x4 grid of mean grey levels: enough to catch a flipped,
/// transposed or squashed panel, without pinning every anti-aliased pixel of the title.
fn summary(image: &RgbImage) -> String {
    let (w, h) = image.dimensions();
    let mut grid = Vec::new();
    for gy in 0..4 {
        let mut row = String::new();
        for gx in 0..8 {
            let (x0, x1, y0, y1) = (gx * w / 8, (gx + 1) * w / 8, gy * h / 4, (gy + 1) * h / 4);
            let mut sum = 0u64;
            let mut n = 0u64;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += image.get_pixel(x, y).0.iter().map(|&c| u64::from(c)).sum::<u64>();
                    n += 3;
                }
            }
            let _ = write!(row, "{:4}", sum / n.max(1));
        }
        grid.push(row);
    }
    format!("{w}x{h}\n{}", grid.join("\n"))
}

fn preview(image: &str, label: Option<&str>) -> RgbImage {
    let volume = voxflow_io_nifti::read(data(image), Kind::Image).expect("sample reads");
    let labels = label.map(|l| voxflow_io_nifti::read(data(l), Kind::Label).expect("labels read"));
    let picture = render(&volume, labels.as_ref(), &describe(image, &volume), &PreviewOptions::default())
        .expect("renders");
    if let Some(dir) = std::env::var_os("VOXFLOW_PREVIEW_DIR") {
        picture.save(std::path::Path::new(&dir).join(format!("{image}.png"))).expect("png written");
    }
    picture
}

#[test]
fn mni_t1_with_tissue_labels() {
    let picture = preview("mni152_t1.nii.gz", Some("mni152_tissue_labels.nii.gz"));
    insta::assert_snapshot!(summary(&picture));
}

#[test]
fn oblique_epi_is_upright() {
    // someones_epi has an oblique affine: the preview goes through the closest canonical
    // orientation, so the head is upright (superior at the top of the sagittal panel).
    let picture = preview("someones_epi.nii.gz", None);
    insta::assert_snapshot!(summary(&picture));
}

#[test]
fn anisotropic_4d_volume_keeps_its_aspect_ratio() {
    // functional.nii: 17x21x3 voxels of 4x4x8 mm (x20 frames): panels are sized in mm.
    let picture = preview("functional.nii", None);
    insta::assert_snapshot!(summary(&picture));
}

#[test]
fn a_label_map_on_another_grid_is_an_error() {
    let volume = voxflow_io_nifti::read(data("someones_anatomy.nii.gz"), Kind::Image).expect("reads");
    let labels = voxflow_io_nifti::read(data("mni152_tissue_labels.nii.gz"), Kind::Label).expect("reads");
    let error = render(&volume, Some(&labels), "x", &PreviewOptions::default()).expect_err("grids differ");
    assert!(error.to_string().contains("grid"), "{error}");
}

use image::Rgb;
use ndarray::Array3;
use voxflow_core::{Affine, Volume};
use voxflow_preview::{IntensityWindow, LabelNames, PreviewError, colour, stack};

fn diagonal(spacing: [f64; 3]) -> Affine {
    Affine::from_diagonal(&nalgebra::Vector4::new(spacing[0], spacing[1], spacing[2], 1.0))
}

/// A volume of one value, drawn mid-grey (128) by a window centred on it.
fn constant(shape: (usize, usize, usize), spacing: [f64; 3]) -> Volume {
    Volume::image3(Array3::from_elem(shape, 1.0), diagonal(spacing))
}

fn mid_grey() -> PreviewOptions {
    PreviewOptions {
        window: IntensityWindow::Absolute { width: 2.0, level: 1.0 },
        ..PreviewOptions::default()
    }
}

/// Bounding boxes `(x0, y0, x1, y1)` (inclusive) and pixel counts of the 8-connected regions
/// of pixels that satisfy `inside`, larger than `min_area`, left to right.
fn regions(picture: &RgbImage, inside: impl Fn(Rgb<u8>) -> bool, min_area: usize) -> Vec<([u32; 4], usize)> {
    let (w, h) = picture.dimensions();
    let mut seen = vec![false; (w * h) as usize];
    let mut found = Vec::new();
    for start in 0..w * h {
        if seen[start as usize] || !inside(*picture.get_pixel(start % w, start / w)) {
            continue;
        }
        let (mut bbox, mut area, mut stack) = ([w, h, 0, 0], 0, vec![start]);
        seen[start as usize] = true;
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            area += 1;
            bbox = [bbox[0].min(x), bbox[1].min(y), bbox[2].max(x), bbox[3].max(y)];
            for (dx, dy) in [(-1i64, -1i64), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                if nx < 0 || ny < 0 || nx >= i64::from(w) || ny >= i64::from(h) {
                    continue;
                }
                let q = (ny as u32) * w + nx as u32;
                if !seen[q as usize] && inside(*picture.get_pixel(nx as u32, ny as u32)) {
                    seen[q as usize] = true;
                    stack.push(q);
                }
            }
        }
        if area > min_area {
            found.push((bbox, area));
        }
    }
    found.sort_by_key(|(b, _)| (b[0], b[1]));
    found
}

fn is_grey(p: Rgb<u8>) -> bool {
    p.0[0] == p.0[1] && p.0[1] == p.0[2]
}

#[test]
fn orientation_letters_sit_in_margins_around_every_panel() {
    // Anisotropic, and 1-voxel-thick slabs along each axis.
    for (shape, spacing) in [
        ((20, 30, 12), [1.0, 1.0, 2.5]),
        ((40, 30, 1), [1.0, 1.0, 1.0]),
        ((1, 30, 40), [1.0, 1.0, 1.0]),
        ((30, 1, 40), [2.0, 1.0, 1.0]),
    ] {
        let picture = render(&constant(shape, spacing), None, "", &mid_grey()).expect("renders");
        let panels = regions(&picture, |p| p.0 == [128, 128, 128], 0);
        assert_eq!(panels.len(), 3, "{shape:?}: three panels, each one grey rectangle");
        // Each panel is whole: no letter drew over it.
        for ([x0, y0, x1, y1], area) in &panels {
            assert_eq!(*area as u32, (x1 - x0 + 1) * (y1 - y0 + 1), "{shape:?}: a panel has a hole");
        }
        // The letters: every pixel that is neither background nor the image.
        let letters = regions(&picture, |p| !is_grey(p), 3);
        assert_eq!(letters.len(), 12, "{shape:?}: two letters on each of a panel's two axes");
        for ([lx0, ly0, lx1, ly1], _) in &letters {
            for ([x0, y0, x1, y1], _) in &panels {
                let overlaps = lx0 <= x1 && lx1 >= x0 && ly0 <= y1 && ly1 >= y0;
                assert!(!overlaps, "{shape:?}: a letter at {lx0},{ly0} overlaps a panel at {x0},{y0}");
            }
        }
        for ([x0, y0, x1, y1], _) in &panels {
            let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
            // A panel's own letters are within a margin (plus the centring of a thin slab in
            // its block) of it; a neighbour's are farther.
            let reach = 26;
            let across = |b: &[u32; 4]| b[1] <= cy + 8 && b[3] + 8 >= cy;
            let along = |b: &[u32; 4]| b[0] <= cx + 8 && b[2] + 8 >= cx;
            let boxes: Vec<&[u32; 4]> = letters.iter().map(|(b, _)| b).collect();
            let left = boxes.iter().filter(|b| b[2] < *x0 && x0 - b[2] <= reach && across(b)).count();
            let right = boxes.iter().filter(|b| b[0] > *x1 && b[0] - x1 <= reach && across(b)).count();
            let above = boxes.iter().filter(|b| b[3] < *y0 && y0 - b[3] <= reach && along(b)).count();
            let below = boxes.iter().filter(|b| b[1] > *y1 && b[1] - y1 <= reach && along(b)).count();
            assert_eq!((left, right, above, below), (1, 1, 1, 1), "{shape:?}: panel at {x0},{y0}");
        }
    }
}

/// A 24^3 volume with a gradient, and a label map with blocks of `values` (one block per
/// value, along x) through the middle, and `extra` off the middle slices.
fn phantom(values: &[i64], extra: i64) -> (Volume, Volume) {
    let image = Volume::image3(
        Array3::from_shape_fn((24, 24, 24), |(i, j, k)| (i + j + k) as f32),
        diagonal([1.0; 3]),
    );
    let mut labels = Array3::<i64>::zeros((24, 24, 24));
    for (n, &v) in values.iter().enumerate() {
        labels.slice_mut(ndarray::s![2 + 5 * n..5 + 5 * n, 8..16, 8..16]).fill(v);
    }
    labels[[0, 0, 0]] = extra;
    (image, Volume::label3(labels, diagonal([1.0; 3])))
}

fn count(picture: &RgbImage, c: [u8; 3]) -> usize {
    picture.pixels().filter(|p| p.0 == c).count()
}

#[test]
fn legend_lists_exactly_the_labels_present() {
    // Labels 1, 3 and a huge value are present (the huge one only in a corner, off the middle
    // slices); 2 is named but absent.
    let huge = 9_000_000_000_000_000_000;
    let (image, labels) = phantom(&[1, 3], huge);
    let names = LabelNames::parse("1 edema\n2 absent\n3 necrosis").expect("names");
    let options = PreviewOptions { label_names: names, ..PreviewOptions::default() };
    let picture = render(&image, Some(&labels), "phantom", &options).expect("renders");
    // A legend swatch is the only place a label's exact colour appears (the overlay blends).
    let swatch = 12 * 12;
    assert_eq!(count(&picture, colour(1)), swatch);
    assert_eq!(count(&picture, colour(3)), swatch);
    assert_eq!(count(&picture, colour(i128::from(huge))), swatch);
    assert_eq!(count(&picture, colour(2)), 0, "label 2 is named but not in the volume");

    // No label present: no legend, the same size as no label map at all.
    let (_, empty) = phantom(&[], 0);
    let without = render(&image, None, "phantom", &options).expect("renders");
    let with_empty = render(&image, Some(&empty), "phantom", &options).expect("renders");
    assert_eq!(with_empty.dimensions(), without.dimensions());
    assert!(picture.height() > without.height(), "the legend takes room under the panels");
}

#[test]
fn outline_mode_leaves_the_inside_of_a_label_uncoloured() {
    let image = constant((40, 40, 40), [1.0; 3]);
    let mut labels = Array3::<u8>::zeros((40, 40, 40));
    labels.slice_mut(ndarray::s![10..30, 10..30, 10..30]).fill(1);
    let labels = Volume::label3(labels, diagonal([1.0; 3]));
    let filled = render(&image, Some(&labels), "", &mid_grey()).expect("renders");
    let outlined =
        render(&image, Some(&labels), "", &PreviewOptions { outline: true, ..mid_grey() }).expect("renders");
    // The panels are where the image and overlay are: big regions of non-black pixels.
    let panels = regions(&outlined, |p| p.0 != [0, 0, 0] && (is_grey(p) || p.0 == colour(1)), 400);
    assert_eq!(panels.len(), 3);
    for ([x0, y0, x1, y1], _) in &panels {
        let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
        assert_eq!(outlined.get_pixel(cx, cy).0, [128, 128, 128], "the inside is the image alone");
        assert!(!is_grey(*filled.get_pixel(cx, cy)), "filled, the inside is tinted");
        // The outline crosses the panel's middle row twice (the cube's two faces).
        let crossings = (*x0..=*x1).filter(|&x| outlined.get_pixel(x, cy).0 == colour(1)).count();
        assert_eq!(crossings, 2, "panel at {x0},{y0}");
    }
}

#[test]
fn absolute_window_maps_level_to_mid_grey() {
    let window = IntensityWindow::Absolute { width: 400.0, level: 40.0 };
    let options = PreviewOptions { window, ..PreviewOptions::default() };
    for (value, grey) in [(40.0, 128), (240.0, 255), (300.0, 255), (-160.0, 0), (-1000.0, 0), (140.0, 191)] {
        let volume = Volume::image3(Array3::from_elem((8, 8, 8), value), diagonal([1.0; 3]));
        let picture = render(&volume, None, "", &options).expect("renders");
        let panels = regions(&picture, |p| p.0 == [grey, grey, grey], 40);
        assert_eq!(panels.len(), if grey == 0 { 1 } else { 3 }, "{value} → {grey}");
    }
}

#[test]
fn odd_volumes_render_without_panicking() {
    let one = diagonal([1.0; 3]);
    let nan = Volume::image3(Array3::from_elem((5, 6, 7), f32::NAN), one);
    let infinite = Volume::image3(
        Array3::from_shape_fn((5, 6, 7), |(i, _, _)| if i == 0 { f32::INFINITY } else { f32::MIN }),
        one,
    );
    let single = Volume::image3(Array3::from_elem((1, 1, 1), 3.0), one);
    let stretched = Volume::image3(Array3::from_elem((2000, 2, 2), 1.0), one);
    let flat_spacing = Volume::image3(Array3::from_elem((4, 4, 4), 1.0), diagonal([1e-6, 1.0, 1e6]));
    let extreme = Volume::label3(
        Array3::from_shape_fn((5, 6, 7), |(i, j, _)| if i + j == 0 { u64::MAX } else { i as u64 }),
        one,
    );
    let negative = Volume::label3(Array3::from_shape_fn((5, 6, 7), |(i, _, _)| i64::MIN + i as i64), one);
    for (name, volume, label) in [
        ("nan", &nan, None),
        ("nan over labels", &nan, Some(&extreme)),
        ("infinities", &infinite, Some(&negative)),
        ("one voxel", &single, None),
        ("stretched", &stretched, None),
        ("flat spacing", &flat_spacing, None),
        ("huge labels as image", &extreme, Some(&extreme)),
    ] {
        for options in [PreviewOptions::default(), PreviewOptions { outline: true, ..mid_grey() }] {
            let picture = render(volume, label, name, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(picture.width() <= 4 * 3 * 256 + 200, "{name}: {} px wide", picture.width());
        }
    }
    let picture = render(&nan, None, "", &PreviewOptions::default()).expect("renders");
    assert!(picture.pixels().all(|p| p.0 == [0, 0, 0] || !is_grey(*p)), "NaN draws black");
}

#[test]
fn bad_options_and_frames_are_errors() {
    let volume = constant((4, 4, 4), [1.0; 3]);
    for (options, expected) in [
        (PreviewOptions { label_opacity: 1.5, ..PreviewOptions::default() }, "opacity"),
        (PreviewOptions { label_opacity: f32::NAN, ..PreviewOptions::default() }, "opacity"),
        (
            PreviewOptions {
                window: IntensityWindow::Absolute { width: 0.0, level: 1.0 },
                ..PreviewOptions::default()
            },
            "window",
        ),
        (
            PreviewOptions {
                window: IntensityWindow::Percentiles { low: 50.0, high: 50.0 },
                ..PreviewOptions::default()
            },
            "window",
        ),
        (PreviewOptions { panel_height: 100_000, ..PreviewOptions::default() }, "panel height"),
        (
            PreviewOptions { frame: 1, ..PreviewOptions::default() },
            "frame 1 requested, but the volume has 1 frame(s), numbered 0 to 0",
        ),
    ] {
        let error = render(&volume, None, "", &options).expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let functional = voxflow_io_nifti::read(data("functional.nii"), Kind::Image).expect("reads");
    let last = PreviewOptions { frame: 19, ..PreviewOptions::default() };
    let first = render(&functional, None, "f", &PreviewOptions::default()).expect("frame 0");
    assert_ne!(render(&functional, None, "f", &last).expect("frame 19"), first);
    let error =
        render(&functional, None, "f", &PreviewOptions { frame: 20, ..last }).expect_err("out of range");
    assert!(matches!(error, PreviewError::NoSuchFrame { frame: 20, frames: 20 }), "{error}");
}

#[test]
fn stacked_rows_keep_their_pixels() {
    let a = RgbImage::from_pixel(30, 10, Rgb([1, 2, 3]));
    let b = RgbImage::from_pixel(50, 20, Rgb([4, 5, 6]));
    let grid = stack(&[a, b]);
    assert_eq!(grid.dimensions(), (50, 30));
    assert_eq!(grid.get_pixel(29, 9).0, [1, 2, 3]);
    assert_eq!(grid.get_pixel(30, 9).0, [0, 0, 0]);
    assert_eq!(grid.get_pixel(49, 29).0, [4, 5, 6]);
}

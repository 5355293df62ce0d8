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

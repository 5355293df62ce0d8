//! Every sample in `data/` reads to nibabel's values in `data/expected.json`, one test per file,
//! plus an insta snapshot of a compact summary of each.

use std::fmt::Write as _;
use voxflow_core::{Kind, LabelType, Voxels, with_labels};
use voxflow_io_nifti::{Header, orientation_code, read_with_header};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn expected(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{DATA}expected.json")).expect("data/expected.json");
    let all: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    all[file].clone()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("a number")
}

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array().expect("rows").iter().map(|r| r.as_array().expect("row").iter().map(f).collect()).collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

/// (sum, min, max) in f64 of any volume.
fn stats(voxels: &Voxels) -> (f64, f64, f64) {
    match voxels {
        Voxels::Image(a) => voxflow_core::volume::stats_f32(a),
        Voxels::Label(l) => with_labels!(l, |a: T| {
            let mut s = (0.0, f64::INFINITY, f64::NEG_INFINITY);
            for &v in a {
                let v = v.to_i128() as f64;
                s = (s.0 + v, s.1.min(v), s.2.max(v));
            }
            s
        }),
    }
}

fn assert_affine(what: &str, got: &voxflow_core::Affine, want: &[Vec<f64>]) {
    for r in 0..4 {
        for c in 0..4 {
            assert!(
                (got[(r, c)] - want[r][c]).abs() <= 1e-5,
                "{what}[{r}][{c}]: {} vs {}",
                got[(r, c)],
                want[r][c]
            );
        }
    }
}

/// Reads `file` as `kind` and compares everything `expected.json` records.
fn check(file: &str, kind: Kind) {
    let e = expected(file);
    let (h, vol) = read_with_header(format!("{DATA}{file}"), kind).expect("sample reads");
    assert_eq!(u64::from(h.version), e["nifti_version"].as_u64().expect("version"));
    let shape: Vec<usize> =
        e["shape"].as_array().expect("shape").iter().map(|v| v.as_u64().expect("dim") as usize).collect();
    assert_eq!(h.shape, shape);
    let s4 = vol.shape4();
    assert_eq!(s4.iter().product::<usize>(), shape.iter().product::<usize>());
    assert_eq!(&s4[..3], &shape[..3]);
    let stored = e["stored_dtype"].as_str().expect("dtype");
    let np = h.datatype.numpy_name();
    let short = format!(
        "{}{}",
        if np.starts_with('u') {
            "u"
        } else if np.starts_with('f') {
            "f"
        } else {
            "i"
        },
        h.datatype.size()
    );
    assert!(stored == np || stored.ends_with(&short), "dtype {stored} vs {np}");
    assert_eq!(h.big_endian, stored.starts_with('>'));
    for (p, want) in h.pixdim.iter().zip(e["pixdim"].as_array().expect("pixdim")) {
        assert!(close(*p, f(want), 1e-7), "pixdim {p} vs {want}");
    }
    assert!(close(h.scl_slope, f(&e["scl_slope"]), 1e-9));
    assert!(close(h.scl_inter, f(&e["scl_inter"]), 1e-9));
    assert_eq!(i64::from(h.sform_code), e["sform_code"].as_i64().expect("code"));
    assert_eq!(i64::from(h.qform_code), e["qform_code"].as_i64().expect("code"));
    assert_affine("affine", &h.affine, &matrix(&e["affine"]));
    assert_affine("volume affine", &vol.affine, &matrix(&e["affine"]));
    assert_affine("qform_affine", &h.qform_affine, &matrix(&e["qform_affine"]));
    let (sum, min, max) = stats(&vol.voxels);
    let want_sum = if kind == Kind::Image { f(&e["sum_scaled"]) } else { f(&e["sum_stored"]) };
    assert!(close(sum, want_sum, 1e-6), "sum {sum} vs {want_sum}");
    assert!(close(min, f(&e["min"]), 1e-6), "min {min} vs {}", e["min"]);
    assert!(close(max, f(&e["max"]), 1e-6), "max {max} vs {}", e["max"]);
    assert_eq!(vol.kind(), kind);
    assert_eq!(vol.stored_dtype, h.datatype);
    insta::assert_snapshot!(file, summary(&h, &vol.voxels));
}

/// A compact, stable description: header facts, the affine rounded, rounded statistics and a
/// checksum of the voxel values.
fn summary(h: &Header, voxels: &Voxels) -> String {
    let mut s = String::new();
    let (sum, min, max) = stats(voxels);
    let (kind, dtype, hash) = match voxels {
        Voxels::Image(a) => ("image", "float32".to_owned(), fnv(a.iter().map(|v| u64::from(v.to_bits())))),
        Voxels::Label(l) => {
            with_labels!(l, |a: T| ("label", T::DTYPE.to_string(), fnv(a.iter().map(|v| v.to_i128() as u64))))
        }
    };
    let _ = writeln!(
        s,
        "nifti-{} {} stored {} gzip {} big_endian {}",
        h.version, kind, h.datatype, h.gzip, h.big_endian
    );
    let _ = writeln!(s, "shape {:?} in memory {dtype}", h.shape);
    let _ = writeln!(
        s,
        "sform_code {} qform_code {} orientation {:?}",
        h.sform_code,
        h.qform_code,
        orientation_code(&h.affine)
    );
    for r in 0..3 {
        let row: Vec<String> = (0..4).map(|c| format!("{:.4}", h.affine[(r, c)] + 0.0)).collect();
        let _ = writeln!(s, "affine [{}]", row.join(", "));
    }
    let _ = writeln!(s, "sum {sum:.6e} min {min:.6e} max {max:.6e}");
    let _ = write!(s, "fnv1a {hash:016x}");
    s
}

fn fnv(values: impl Iterator<Item = u64>) -> u64 {
    let mut h = voxflow_core::hash::Fnv1a::default();
    values.for_each(|v| h.write(&v.to_le_bytes()));
    h.finish()
}

#[test]
fn anatomical_big_endian_uncompressed() {
    check("anatomical.nii", Kind::Image);
}

#[test]
fn example4d_time_series() {
    check("example4d.nii.gz", Kind::Image);
}

#[test]
fn example_nifti2() {
    check("example_nifti2.nii.gz", Kind::Image);
}

#[test]
fn functional_scaled_4d() {
    check("functional.nii", Kind::Image);
}

#[test]
fn mni152_t1() {
    check("mni152_t1.nii.gz", Kind::Image);
}

#[test]
fn mni152_tissue_labels() {
    check("mni152_tissue_labels.nii.gz", Kind::Label);
}

#[test]
fn someones_anatomy_scaled() {
    check("someones_anatomy.nii.gz", Kind::Image);
}

#[test]
fn someones_epi_oblique() {
    check("someones_epi.nii.gz", Kind::Image);
}

#[test]
fn standard_tiny_sform_only() {
    check("standard.nii.gz", Kind::Image);
}

#[test]
fn every_sample_has_a_test() {
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}expected.json")).expect("read"))
            .expect("json");
    let tested = [
        "anatomical.nii",
        "example4d.nii.gz",
        "example_nifti2.nii.gz",
        "functional.nii",
        "mni152_t1.nii.gz",
        "mni152_tissue_labels.nii.gz",
        "someones_anatomy.nii.gz",
        "someones_epi.nii.gz",
        "standard.nii.gz",
    ];
    let mut names: Vec<&str> = e.as_object().expect("object").keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, tested);
}

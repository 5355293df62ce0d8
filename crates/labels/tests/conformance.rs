//! Every reference case of `scripts/labels_reference/make_labels_reference.py` (numpy/scipy),
//! run as a `load → op → save` graph through the dataset runner (what `graphrun` runs), and
//! compared exactly: kind, dtype, shape, every voxel, and the affine.

mod common;

use common::{data, run_graph};
use serde_json::Value as Json;
use voxflow_core::Kind;

fn kind(s: &str) -> Kind {
    match s {
        "label" => Kind::Label,
        "image" => Kind::Image,
        other => panic!("unknown kind `{other}`"),
    }
}

#[test]
fn every_reference_case_matches_numpy_and_scipy_through_a_graph() {
    let text =
        std::fs::read_to_string(data("cases.json")).expect("cases.json (run make_labels_reference.py)");
    let doc: Json = serde_json::from_str(&text).expect("cases.json is JSON");
    let cases = doc["cases"].as_array().expect("a list of cases");
    assert!(cases.len() >= 20, "too few cases: {}", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["case"].as_str().expect("a case name");
        let field = |k: &str| case[k].as_str().unwrap_or_else(|| panic!("{name}: no `{k}`"));
        let out_kind = kind(field("expected_kind"));
        let got = match run_graph(
            &data(field("input")),
            kind(field("input_kind")),
            field("op"),
            &case["params"],
            out_kind,
        ) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let want =
            voxflow_io_nifti::read(data(field("expected")), out_kind).expect("the expected file reads");
        if got.dtype().numpy_name() != field("expected_dtype") {
            failures.push(format!("{name}: dtype {}, expected {}", got.dtype(), field("expected_dtype")));
            continue;
        }
        if got.shape4().to_vec() != want.shape4().to_vec() {
            failures.push(format!("{name}: shape {:?}, expected {:?}", got.shape4(), want.shape4()));
            continue;
        }
        if got.voxels != want.voxels {
            let differing = match (&got.voxels, &want.voxels) {
                (voxflow_core::Voxels::Image(a), voxflow_core::Voxels::Image(b)) => {
                    a.iter().zip(b).filter(|(x, y)| x != y).count()
                }
                _ => usize::MAX,
            };
            failures.push(format!(
                "{name}: voxels differ ({} differing image voxels; label histograms got {:?}, expected {})",
                differing,
                got.labels().ok().map(common::histogram),
                case["histogram"]
            ));
            continue;
        }
        let affine_diff = (got.affine - want.affine).abs().max();
        if affine_diff > 1e-6 {
            failures.push(format!("{name}: affine differs by {affine_diff}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

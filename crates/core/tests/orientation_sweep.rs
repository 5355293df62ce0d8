//! `io_orientation` against nibabel on a sweep of 7,003 affines (`tests/data/orientation_sweep.json`,
//! written by `scripts/make_orientation_reference.py` with the nibabel release named in
//! `voxflow_core::orientation::NIBABEL_VERSION`).
//!
//! Every case must give nibabel's answer, except on exact ties (e.g. 45 degrees exactly), where
//! nibabel's own answer is decided by the SVD's rounding and changes with the BLAS kernel: there
//! the answer must be one of those the tie can give (listed in the fixture).

use voxflow_core::Affine;
use voxflow_core::orientation::{NIBABEL_VERSION, Orientation, aff_to_axcodes, io_orientation};

/// One case: the 3x3 part (row by row, decimal), nibabel's axis codes ('?' for a dropped axis,
/// "error" when nibabel raises) and, for an exact tie, every answer the tie can give.
type Case = (String, String, String);

fn affine(text: &str) -> Affine {
    // `str::parse` rounds correctly, so these are the very numbers nibabel saw.
    let v: Vec<f64> = text.split(' ').map(|s| s.parse().expect("a decimal number")).collect();
    assert_eq!(v.len(), 9, "{text}");
    let mut a = Affine::identity();
    for r in 0..3 {
        for c in 0..3 {
            a[(r, c)] = v[3 * r + c];
        }
    }
    a
}

/// Our answer in the fixture's notation.
fn codes(a: &Affine) -> String {
    match aff_to_axcodes(a) {
        Ok(codes) => codes.iter().map(|c| c.unwrap_or('?')).collect(),
        Err(_) => "error".to_owned(),
    }
}

/// Compares our answer with the fixture's; `Err` says how they differ.
fn check(m: &str, want: &str, ties: &str) -> Result<(), String> {
    let a = affine(m);
    let got = codes(&a);
    // The complete orientation agrees with the per-axis answer.
    if let Ok(o) = Orientation::of(&a) {
        assert_eq!(o.axcodes().iter().collect::<String>(), got, "{m}");
        assert_eq!(io_orientation(&a).map(|o| o.iter().all(Option::is_some)), Ok(true), "{m}");
    }
    let ok = if ties.is_empty() { got == want } else { ties.split(' ').any(|t| t == got) };
    if ok { Ok(()) } else { Err(format!("[{m}]: nibabel {want} (ties: {ties:?}), voxflow {got}")) }
}

#[test]
fn io_orientation_matches_nibabel_on_the_sweep() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/orientation_sweep.json"))
            .expect("tests/data/orientation_sweep.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["nibabel"], NIBABEL_VERSION);
    let groups = doc["groups"].as_object().expect("groups");
    let (mut total, mut ties, mut same_on_ties) = (0, 0, 0);
    let mut failures = Vec::new();
    for (group, cases) in groups {
        let cases: Vec<Case> = serde_json::from_value(cases.clone()).expect("cases");
        for (i, (m, want, alternatives)) in cases.iter().enumerate() {
            total += 1;
            if !alternatives.is_empty() {
                ties += 1;
                same_on_ties += usize::from(codes(&affine(m)) == *want);
            }
            if let Err(e) = check(m, want, alternatives) {
                failures.push(format!("{group}[{i}] {e}"));
            }
        }
    }
    eprintln!("{total} cases, {ties} exact ties ({same_on_ties} broken as this nibabel install broke them)");
    assert!(total >= 5000 && ties < total / 10, "{total} cases, {ties} ties");
    assert!(failures.is_empty(), "{} of {total} differ:\n{}", failures.len(), failures.join("\n"));
}

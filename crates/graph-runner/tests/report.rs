//! `graphrun preview`, `run --previews` and `run --report`, the report opened in headless
//! Chromium. The browser part runs where `chromium` is installed; CI installs it and sets
//! `VOXFLOW_REQUIRE_CHROMIUM=1`, which turns a missing browser into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn graphrun(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_graphrun")).args(args).output().expect("graphrun starts")
}

#[test]
fn preview_command_writes_a_png_of_three_panels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mni.png");
    let data = workspace().join("data");
    let result = graphrun(&[
        "preview",
        data.join("mni152_t1.nii.gz").to_str().expect("utf-8 path"),
        "--label",
        data.join("mni152_tissue_labels.nii.gz").to_str().expect("utf-8 path"),
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let picture = image::open(&out).expect("a PNG").to_rgb8();
    // Three 1 mm panels, the tallest (coronal/sagittal, 189 mm) drawn 256 px high.
    assert_eq!(picture.height(), 26 + 256 + 8);
    assert!(picture.width() > 3 * 200, "{}", picture.width());
}

#[test]
fn preview_of_a_missing_file_names_it() {
    let result = graphrun(&["preview", "no/such/file.nii.gz", "-o", "x.png"]);
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("no/such/file.nii.gz"));
}

#[test]
fn report_has_every_preview_and_renders_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let report = dir.path().join("report.html");
    let graph = workspace().join("graphs/flip.json");
    let result = graphrun(&[
        "run",
        graph.to_str().expect("utf-8 path"),
        "-o",
        out.to_str().expect("utf-8 path"),
        "--previews",
        "--report",
        report.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    // A preview next to every output (the flip graph: one case, two outputs).
    for output in 0..2 {
        let png = out.join(format!("mni152/image_{output}.png"));
        assert!(png.exists(), "{} missing", png.display());
    }
    let html = std::fs::read_to_string(&report).expect("report written");
    // The input and two outputs, inline, with what was drawn.
    assert_eq!(html.matches("data:image/png;base64,").count(), 3);
    assert!(html.contains("data-expected-images=\"3\""));
    assert!(html.contains("&quot;flip&quot;"), "the draws are shown");

    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        assert!(
            std::env::var_os("VOXFLOW_REQUIRE_CHROMIUM").is_none(),
            "VOXFLOW_REQUIRE_CHROMIUM is set but no chromium was found"
        );
        eprintln!("chromium not installed: the report was checked without a browser");
        return;
    };
    let profile = tempfile::tempdir().expect("tempdir");
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.canonicalize().expect("report exists").display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The page's own script counts the images that decoded with a non-zero size.
    assert!(
        dom.contains("data-rendered-images=\"3\""),
        "chromium did not render 3 images: {}",
        &dom[..dom.len().min(400)]
    );
}

#[test]
fn dot_renders_svg_when_graphviz_is_installed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("graph.svg");
    let graph = workspace().join("graphs/tutorial.json");
    let result =
        graphrun(&["dot", graph.to_str().expect("utf-8 path"), "--svg", svg.to_str().expect("utf-8 path")]);
    let has_dot = Command::new("dot").arg("-V").output().is_ok_and(|o| o.status.success());
    if has_dot {
        assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
        let text = std::fs::read_to_string(&svg).expect("svg written");
        assert!(
            text.contains("<svg") && text.contains("augment.resize.label.crop"),
            "{}",
            &text[..text.len().min(300)]
        );
    } else {
        assert!(!result.status.success(), "without graphviz, --svg must fail");
        assert!(String::from_utf8_lossy(&result.stderr).contains("graphviz"));
    }
}

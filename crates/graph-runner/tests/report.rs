//! `graphrun preview`, `run --previews` and `run --report`, the report opened in headless
//! Chromium. The browser part runs where `chromium` is installed; CI installs it and sets
//! `VOXFLOW_REQUIRE_CHROMIUM=1`, which turns a missing browser into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn graphrun(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_graphrun")).args(args).output().expect("graphrun starts")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn preview_command_writes_a_png_of_three_panels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mni.png");
    let data = workspace().join("data");
    let result = graphrun(&[
        "preview",
        path(&data.join("mni152_t1.nii.gz")),
        "--label",
        path(&data.join("mni152_tissue_labels.nii.gz")),
        "-o",
        path(&out),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(std::fs::read(&out).expect("written").starts_with(b"\x89PNG"));
    let picture = image::open(&out).expect("a PNG").to_rgb8();
    // Three 1 mm panels, the tallest (axial, 233 mm) drawn 256 px high, between the title, the
    // letter margins above and below, and one legend row (labels 1 and 2).
    assert_eq!(picture.height(), 26 + 18 + 256 + 18 + 18 + 8);
    assert!(picture.width() > 3 * 200, "{}", picture.width());
}

#[test]
fn preview_format_follows_the_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = workspace().join("data/someones_anatomy.nii.gz");
    for name in ["a.jpg", "b.JPEG"] {
        let out = dir.path().join(name);
        let result = graphrun(&["preview", path(&image), "-o", path(&out)]);
        assert!(result.status.success(), "{}", stderr(&result));
        let bytes = std::fs::read(&out).expect("written");
        assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "{name}: JPEG bytes");
        let picture = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("decodes");
        assert!(picture.width() > 300);
    }
    for (name, named) in [("c.bmp", ".bmp"), ("noext", "(no extension)")] {
        let out = dir.path().join(name);
        let result = graphrun(&["preview", path(&image), "-o", path(&out)]);
        assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
        let message = stderr(&result);
        assert!(message.contains(named) && message.contains(name), "{message}");
        assert!(!out.exists(), "nothing written for {name}");
    }
}

#[test]
fn preview_grid_has_one_row_per_file_each_as_drawn_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = workspace().join("data");
    let (t1, labels, epi) = (
        data.join("mni152_t1.nii.gz"),
        data.join("mni152_tissue_labels.nii.gz"),
        data.join("someones_epi.nii.gz"),
    );
    let grid = dir.path().join("grid.png");
    let result = graphrun(&[
        "preview",
        path(&t1),
        path(&epi),
        path(&t1),
        "--label",
        path(&labels),
        "--label",
        "",
        "--label",
        path(&labels),
        "--outline",
        "-o",
        path(&grid),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let grid = image::open(&grid).expect("a PNG").to_rgb8();
    let mut top = 0;
    for (i, (file, label)) in
        [(&t1, Some(&labels)), (&epi, None), (&t1, Some(&labels))].into_iter().enumerate()
    {
        let alone = dir.path().join(format!("row{i}.png"));
        let mut args = vec!["preview", path(file), "--outline", "-o", path(&alone)];
        if let Some(label) = label {
            args.extend(["--label", path(label)]);
        }
        let result = graphrun(&args);
        assert!(result.status.success(), "{}", stderr(&result));
        let row = image::open(&alone).expect("a PNG").to_rgb8();
        let (w, h) = row.dimensions();
        let cut = image::imageops::crop_imm(&grid, 0, top, w, h).to_image();
        assert!(cut == row, "row {i} of the grid differs from its preview alone");
        top += h;
    }
    assert_eq!(grid.height(), top, "nothing but the rows");

    // One --label for two files: which file it goes with is ambiguous.
    let result = graphrun(&["preview", path(&t1), path(&epi), "--label", path(&labels), "-o", "x.png"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("2 files but 1 --label"), "{}", stderr(&result));
}

#[test]
fn preview_flags_are_checked_and_a_missing_frame_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("f.png");
    let functional = workspace().join("data/functional.nii");
    let ok = graphrun(&[
        "preview",
        path(&functional),
        "--frame",
        "19",
        "--window",
        "400",
        "--level",
        "-40",
        "-o",
        path(&out),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let result = graphrun(&["preview", path(&functional), "--frame", "20", "-o", path(&out)]);
    assert_eq!(result.status.code(), Some(1), "an error, not a panic: {}", stderr(&result));
    let message = stderr(&result);
    assert!(message.contains("functional.nii") && message.contains("numbered 0 to 19"), "{message}");
    for (args, expected) in [
        (&["--opacity", "1.5"][..], "opacity"),
        (&["--percentiles", "90", "10"][..], "window"),
        (&["--window", "0", "--level", "40"][..], "window"),
        (&["--window", "400"][..], "--level"),
    ] {
        let mut all = vec!["preview", path(&functional), "-o", path(&out)];
        all.extend(args);
        let result = graphrun(&all);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {}", stderr(&result));
        assert!(stderr(&result).contains(expected), "{args:?}: {}", stderr(&result));
    }
}

#[test]
fn preview_legend_names_come_from_dataset_json_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = workspace().join("data");
    let images = dir.path().join("imagesTr");
    std::fs::create_dir(&images).expect("mkdir");
    let (image, label) = (images.join("mni_0000.nii.gz"), images.join("mni.nii.gz"));
    std::fs::copy(data.join("mni152_t1.nii.gz"), &image).expect("copy");
    std::fs::copy(data.join("mni152_tissue_labels.nii.gz"), &label).expect("copy");
    let draw = |extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let mut args = vec!["preview", path(&image), "--label", path(&label), "-o", path(&out)];
        args.extend(extra);
        let result = graphrun(&args);
        (result, out)
    };
    // No dataset.json yet: asked for, it is an error naming where it looked.
    let (result, _) = draw(&["--labels"], "none.png");
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("dataset.json"), "{}", stderr(&result));

    std::fs::write(
        dir.path().join("dataset.json"),
        r#"{"channel_names": {"0": "T1"}, "labels": {"background": 0, "grey matter": 1, "white matter": 2}}"#,
    )
    .expect("write");
    let (plain, plain_png) = draw(&[], "plain.png");
    let (named, named_png) = draw(&["--labels"], "named.png");
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "1 grey matter\n2 white matter\n").expect("write");
    let (text, text_png) = draw(&["--labels", path(&names)], "text.png");
    for r in [&plain, &named, &text] {
        assert!(r.status.success(), "{}", stderr(r));
    }
    let [plain, named, text] =
        [plain_png, named_png, text_png].map(|p| image::open(p).expect("PNG").to_rgb8());
    // dataset.json is read only when asked; the names widen the legend's text, nothing else.
    assert!(plain != named, "the names are drawn");
    assert_eq!(plain.dimensions(), named.dimensions());
    let above_legend =
        |p: &image::RgbImage| image::imageops::crop_imm(p, 0, 0, p.width(), p.height() - 26).to_image();
    assert!(above_legend(&plain) == above_legend(&named), "only the legend changes");
    assert!(named == text, "dataset.json and the text file name the same labels");
    let lit = |p: &image::RgbImage| p.pixels().filter(|px| px.0.iter().all(|&c| c > 100)).count();
    assert!(lit(&named) > lit(&plain), "longer legend text");

    std::fs::write(&names, "1 grey matter\nwhite matter\n").expect("write");
    let (bad, _) = draw(&["--labels", path(&names)], "bad.png");
    let message = stderr(&bad);
    assert!(
        !bad.status.success() && message.contains("names.txt") && message.contains("line 2"),
        "{message}"
    );
}

#[test]
fn preview_of_a_missing_file_names_it() {
    let result = graphrun(&["preview", "no/such/file.nii.gz", "-o", "x.png"]);
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("no/such/file.nii.gz"));
}

#[test]
fn previews_are_written_next_to_every_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let graph = workspace().join("graphs/flip.json");
    let result = graphrun(&["run", path(&graph), "-o", path(&out), "--previews", "--quiet"]);
    assert!(result.status.success(), "{}", stderr(&result));
    // The flip graph: one case, two outputs.
    for output in 0..2 {
        let png = out.join(format!("mni152/image_{output}.png"));
        assert!(png.exists(), "{} missing", png.display());
    }
}

/// A 100-case run: the page stays under 1 MB with every picture a separate file, every link
/// resolves, and headless Chromium renders every thumbnail without a console error.
#[test]
fn a_100_case_report_is_small_links_resolve_and_renders_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ds = common::dataset(dir.path(), 100);
    let graph = common::graph_file(dir.path());
    let out = dir.path().join("out");
    let report = dir.path().join("report.html");
    let result =
        graphrun(&["run", path(&graph), "--nnunet", path(&ds), "-o", path(&out), "--report", path(&report)]);
    assert!(result.status.success(), "{}", stderr(&result));
    // Every case's pictures were drawn while the run went on: none is left for the end.
    assert!(stderr(&result).contains("(0 outputs left to draw)"), "{}", stderr(&result));
    let html = std::fs::read_to_string(&report).expect("report written");
    println!("report: {} bytes of HTML for 100 cases", html.len());
    assert!(html.len() <= 1_000_000, "the page is {} bytes for 100 cases", html.len());
    assert!(html.contains("data-expected-images=\"300\""), "an input and two outputs per case");
    assert!(!html.contains("base64"));
    // Every link and picture resolves to a file beside the page.
    let mut links = 0;
    for attr in ["href=\"", "src=\""] {
        for piece in html.split(attr).skip(1) {
            let target = &piece[..piece.find('"').expect("closing quote")];
            if target.starts_with('#') {
                continue;
            }
            assert!(dir.path().join(target).is_file(), "{target} does not resolve");
            links += 1;
        }
    }
    assert_eq!(links, 600, "a thumbnail and a full preview per picture");
    // The draws in words: the flip, the shift in mm and the noise of case 7's output 1.
    let case7 = &html[html.find("id=\"case-case7\"").expect("case 7")..];
    assert!(
        case7.contains("<tr><th>flip</th><td>") && case7.contains("<tr><th>noise</th><td>Gaussian noise σ="),
        "{}",
        &case7[..800]
    );

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
    let chrome = |extra: &[String]| {
        let profile = tempfile::tempdir().expect("tempdir");
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=20000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", report.canonicalize().expect("report exists").display()))
            .output()
            .expect("chromium runs")
    };
    let dom = chrome(&["--dump-dom".to_owned()]);
    let page = String::from_utf8_lossy(&dom.stdout);
    // The page's own script counts the images that decoded with a non-zero size.
    assert!(
        page.contains("data-rendered-images=\"300\""),
        "chromium did not render 300 images: {}",
        &page[..page.len().min(400)]
    );
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.contains("CONSOLE") && !log.contains("Uncaught"), "console errors: {log}");
    let shot = dir.path().join("report.png");
    let screenshot =
        chrome(&[format!("--screenshot={}", shot.display()), "--window-size=1280,1600".to_owned()]);
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&screenshot.stderr)
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

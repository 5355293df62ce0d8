//! A corpus of bad graphs and bad datasets, run by the `graphrun` binary: every one must end in
//! a clear error (exit 1 or 2, a message, no panic, no abort, no hang) and write nothing outside
//! the output folder. A separate process per case, so an abort or a runaway allocation fails
//! the test instead of ending it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_graphrun");
const EPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/someones_epi.nii.gz");

/// `load → <op> → save`, with the op's JSON (`"op": .., "params": ..`).
fn one_op(op: &str) -> String {
    format!(
        r#"{{"nodes": [
          {{"name": "in", "op": "load"}},
          {{"name": "x", {op}, "inputs": {{"volume": "in"}}}},
          {{"name": "out", "op": "save", "params": {{"path": "{{case}}_{{output}}.nii.gz"}}, "inputs": {{"volume": "x"}}}}
        ]}}"#
    )
}

/// `load → save` with a save path template (and outputs per case).
fn save_path(path: &str, outputs: u64) -> String {
    format!(
        r#"{{"outputs": {outputs}, "nodes": [
          {{"name": "in", "op": "load"}},
          {{"name": "out", "op": "save", "params": {{"path": "{path}"}}, "inputs": {{"volume": "in"}}}}
        ]}}"#
    )
}

/// The bad graphs: a name, the graph, extra arguments, and a phrase stderr must contain.
fn corpus() -> Vec<(String, String, Vec<String>, &'static str)> {
    let mut cases: Vec<(String, String, Vec<String>, &'static str)> = Vec::new();
    let mut add = |name: &str, graph: String, args: &[&str], expect: &'static str| {
        cases.push((name.to_owned(), graph, args.iter().map(|s| (*s).to_owned()).collect(), expect));
    };
    // Parameters that used to panic, abort or grow without bound.
    add("blur_huge_sigma", one_op(r#""op": "blur", "params": {"sigma_mm": 1e300}"#), &[], "sigma_mm");
    add("blur_big_sigma", one_op(r#""op": "blur", "params": {"sigma_mm": 1e7}"#), &[], "sigma_mm");
    add(
        "spacing_tiny",
        one_op(r#""op": "resample_to_spacing", "params": {"spacing": [1e-6, 1e-6, 1e-6]}"#),
        &[],
        "spacing",
    );
    add(
        "spacing_tiny_oblique",
        one_op(
            r#""op": "resample_to_spacing", "params": {"spacing": [1e-9, 1, 1], "oblique": "to_output_space"}"#,
        ),
        &[],
        "spacing",
    );
    add("resize_huge", one_op(r#""op": "resize", "params": {"shape": [30000, 30000, 30000]}"#), &[], "shape");
    add("resize_factor_huge", one_op(r#""op": "resize", "params": {"factor": 1e12}"#), &[], "factor");
    add("pad_huge", one_op(r#""op": "pad", "params": {"after": [1000000000, 0, 0]}"#), &[], "after");
    add(
        "pad_max",
        one_op(r#""op": "pad", "params": {"before": [18446744073709551615, 0, 0]}"#),
        &[],
        "before",
    );
    add(
        "crop_pad_huge",
        one_op(r#""op": "crop", "params": {"size": [4000000, 4000000, 1], "pad": true}"#),
        &[],
        "size",
    );
    add(
        "crop_or_pad_huge",
        one_op(r#""op": "crop_or_pad", "params": {"shape": [100000, 100000, 100000]}"#),
        &[],
        "shape",
    );
    add(
        "rotate_same_axes",
        one_op(r#""op": "rotate", "params": {"angle": 10, "axes": [1, 1]}"#),
        &[],
        "axes",
    );
    add("outputs_huge", save_path("{case}_{output}.nii.gz", 1_000_000_000_000), &[], "outputs");
    add(
        "outputs_flag_huge",
        save_path("{case}_{output}.nii.gz", 1),
        &["--outputs", "1000000000000"],
        "outputs",
    );
    add(
        "outputs_negative",
        save_path("{case}_{output}.nii.gz", 1).replace("\"outputs\": 1", "\"outputs\": -1"),
        &[],
        "outputs",
    );
    // Paths outside -o.
    add("save_parent", save_path("../{case}.nii.gz", 1), &[], "path");
    add("save_absolute", save_path("/tmp/voxflow-escape-{case}.nii.gz", 1), &[], "path");
    add("save_nested_parent", save_path("a/../../{case}.nii.gz", 1), &[], "path");
    add(
        "node_name_escape",
        r#"{"nodes": [{"name": "in", "op": "load"},
          {"name": "../../x", "op": "save", "params": {"path": "{node}.nii.gz"}, "inputs": {"volume": "in"}}]}"#.to_owned(),
        &[],
        "node name",
    );
    add(
        "node_name_slash",
        r#"{"nodes": [{"name": "in", "op": "load"},
          {"name": "a/b", "op": "save", "params": {"path": "{node}.nii.gz"}, "inputs": {"volume": "in"}}]}"#
            .to_owned(),
        &[],
        "node name",
    );
    // A graph's own dataset names its case id.
    let with_case = |id: &str| {
        save_path("{case}/x_{output}.nii.gz", 1).replacen(
            '{',
            &format!(r#"{{"dataset": {{"case": "{id}", "inputs": {{"image": "{EPI}"}}}}, "#),
            1,
        )
    };
    add("case_id_parent", with_case(".."), &["@NO_INPUT@"], "case id");
    add("case_id_slash", with_case("../x"), &["@NO_INPUT@"], "case id");
    add("case_id_absolute", with_case("/abs/x"), &["@NO_INPUT@"], "case id");
    add("case_id_empty", with_case(""), &["@NO_INPUT@"], "case id");
    add("case_id_dot", with_case("."), &["@NO_INPUT@"], "case id");
    // Silent overwrites.
    add("save_without_output", save_path("{case}.nii.gz", 3), &[], "two outputs write");
    add(
        "two_saves_one_path",
        r#"{"nodes": [{"name": "in", "op": "load"},
          {"name": "a", "op": "save", "params": {"path": "same.nii.gz"}, "inputs": {"volume": "in"}},
          {"name": "b", "op": "save", "params": {"path": "same.nii.gz"}, "inputs": {"volume": "in"}}]}"#
            .to_owned(),
        &[],
        "two outputs write",
    );
    // Malformed graphs.
    add("not_json", "{nodes: [".to_owned(), &[], "graph");
    add("empty_object", "{}".to_owned(), &[], "nodes");
    add("no_nodes", r#"{"nodes": []}"#.to_owned(), &[], "no nodes");
    add("unknown_op", one_op(r#""op": "rotat", "params": {"angle": 3}"#), &[], "rotat");
    add("unknown_param", one_op(r#""op": "rotate", "params": {"angle": 3, "angel": 3}"#), &[], "angel");
    add(
        "wrong_enum",
        one_op(r#""op": "rotate", "params": {"angle": 3, "interpolation": "bilinear"}"#),
        &[],
        "bilinear",
    );
    add("wrong_type", one_op(r#""op": "rotate", "params": {"angle": "1.0"}"#), &[], "angle");
    add("infinite_angle", one_op(r#""op": "rotate", "params": {"angle": 1e999}"#), &[], "angle");
    add("wrong_array_len", one_op(r#""op": "shift", "params": {"offset": [1, 2]}"#), &[], "offset");
    add("negative_shape", one_op(r#""op": "resize", "params": {"shape": [-1, 2, 2]}"#), &[], "shape");
    add("zero_shape", one_op(r#""op": "resize", "params": {"shape": [0, 2, 2]}"#), &[], "shape");
    add(
        "zero_spacing",
        one_op(r#""op": "resample_to_spacing", "params": {"spacing": [0, 1, 1]}"#),
        &[],
        "spacing",
    );
    add("negative_sigma", one_op(r#""op": "blur", "params": {"sigma_mm": -1}"#), &[], "sigma_mm");
    add("bad_axis", one_op(r#""op": "flip", "params": {"axis": 7}"#), &[], "axis");
    add("bad_probability", one_op(r#""op": "random_flip", "params": {"p": 2}"#), &[], "p");
    add(
        "singular_affine",
        one_op(r#""op": "affine", "params": {"matrix": [[0,0,0],[0,1,0],[0,0,1]]}"#),
        &[],
        "matrix",
    );
    add(
        "bad_gzip_level",
        save_path("{case}_{output}.nii.gz", 1).replace("\"path\"", "\"gzip_level\": 99, \"path\""),
        &[],
        "gzip_level",
    );
    add("bad_extension", save_path("{case}_{output}.png", 1), &[], "path");
    add("bad_placeholder", save_path("{cse}_{output}.nii.gz", 1), &[], "cse");
    add(
        "dangling_input",
        r#"{"nodes": [{"name": "in", "op": "load"},
          {"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "nowhere"}}]}"#
            .to_owned(),
        &[],
        "nowhere",
    );
    add(
        "cycle",
        r#"{"nodes": [{"name": "a", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "b"}},
          {"name": "b", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "a"}},
          {"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "b"}}]}"#
            .to_owned(),
        &[],
        "cycle",
    );
    add(
        "duplicate_names",
        r#"{"nodes": [{"name": "in", "op": "load"}, {"name": "in", "op": "load"},
          {"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "in"}}]}"#
            .to_owned(),
        &[],
        "more than once",
    );
    add(
        "label_into_intensity",
        r#"{"nodes": [{"name": "in", "op": "load", "params": {"kind": "label"}},
          {"name": "g", "op": "gamma", "params": {"gamma": 2}, "inputs": {"volume": "in"}},
          {"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "g"}}]}"#
            .to_owned(),
        &[],
        "label",
    );
    add(
        "missing_input_name",
        r#"{"nodes": [{"name": "in", "op": "load", "params": {"input": "t2"}},
          {"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "in"}}]}"#
            .to_owned(),
        &[],
        "t2",
    );
    add(
        "missing_file",
        save_path("x_{output}.nii.gz", 1),
        &["--input", "image=/nonexistent/x.nii.gz"],
        "nonexistent",
    );
    add("fifo_input", save_path("x_{output}.nii.gz", 1), &["--input", "image=@FIFO@"], "regular file");
    cases
}

/// Every file under `root`, relative to it.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    out
}

#[test]
fn every_bad_graph_ends_in_a_clear_error_and_writes_nothing_outside_the_output_folder() {
    let corpus = corpus();
    assert!(corpus.len() >= 50, "the corpus has {} graphs", corpus.len());
    let mut problems = Vec::new();
    for (name, graph, args, expect) in corpus {
        let root = tempfile::tempdir().expect("tempdir");
        // The output folder is nested, so a path escaping it by `..` lands in `root`, where it
        // is seen.
        let work = root.path().join("work");
        let out = work.join("out");
        std::fs::create_dir_all(&work).expect("mkdir");
        let graph_path = work.join("graph.json");
        std::fs::write(&graph_path, &graph).expect("write graph");
        let fifo = work.join("fifo.nii");
        let args: Vec<String> =
            args.iter().map(|a| a.replace("@FIFO@", &fifo.display().to_string())).collect();
        if args.iter().any(|a| a.contains("fifo.nii")) {
            let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
            assert!(made.success());
        }
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(&graph_path)
            .arg("-o")
            .arg(&out)
            .arg("--threads")
            .arg("1")
            .arg("--max-memory")
            .arg("2G");
        if !args.iter().any(|a| a == "--input" || a == "@NO_INPUT@") {
            cmd.arg("--input").arg(format!("image={EPI}"));
        }
        cmd.args(args.iter().filter(|a| *a != "@NO_INPUT@"));
        let started = Instant::now();
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // A hang is a failure too: 30 s is far beyond any of these.
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = {
            let mut s = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
            }
            s
        };
        let escaped: Vec<PathBuf> = files_under(root.path())
            .into_iter()
            .filter(|p| {
                !p.starts_with("work/out")
                    && !p.starts_with("work/graph.json")
                    && !p.starts_with("work/fifo.nii")
            })
            .collect();
        let code = status.and_then(|s| s.code());
        if !matches!(code, Some(1 | 2)) {
            problems.push(format!("{name}: exit {code:?} (want 1 or 2)\n{stderr}"));
        } else if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
            problems.push(format!("{name}: panicked\n{stderr}"));
        } else if !stderr.to_lowercase().contains(&expect.to_lowercase()) {
            problems.push(format!("{name}: stderr does not mention `{expect}`:\n{stderr}"));
        }
        if !escaped.is_empty() {
            problems.push(format!("{name}: wrote outside the output folder: {escaped:?}"));
        }
    }
    assert!(std::path::Path::new("/tmp").read_dir().is_ok_and(|mut d| {
        !d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("voxflow-escape-")))
    }));
    assert!(
        problems.is_empty(),
        "{} of the bad graphs went wrong:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn bad_case_ids_from_lists_are_refused_naming_the_row() {
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let graph_path = work.join("graph.json");
    std::fs::write(&graph_path, save_path("{case}/x_{output}.nii.gz", 1)).expect("write graph");
    for (i, bad) in ["../x", "/abs/x", "..", ""].iter().enumerate() {
        let list = work.join(format!("cases{i}.csv"));
        std::fs::write(&list, format!("case,image\nok,{EPI}\n\"{bad}\",{EPI}\n")).expect("write list");
        let out = Command::new(BIN)
            .arg("run")
            .arg(&graph_path)
            .arg("-o")
            .arg(work.join("out"))
            .arg("--list")
            .arg(&list)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case id {bad:?}: {stderr}");
        assert!(stderr.contains("row 2") && stderr.contains("case id"), "case id {bad:?}: {stderr}");
        assert!(!work.join("out").exists(), "case id {bad:?}: the run started");
    }
}

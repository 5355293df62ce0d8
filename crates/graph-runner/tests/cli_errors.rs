//! What `graphrun` prints when something is wrong: snapshots of its stderr (and exit code), one
//! per kind of mistake. Each message must say each thing once and name the file, node or
//! parameter it is about; temporary paths read `[TMP]`.

use ndarray::Array3;
use std::path::{Path, PathBuf};
use std::process::Command;
use voxflow_core::{Affine, Volume};

const BIN: &str = env!("CARGO_BIN_EXE_graphrun");

/// A scratch folder with a small image and label map (`subject.nii.gz`, `subject_label.nii.gz`).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = Array3::from_shape_fn((8, 7, 6), |(x, y, z)| (x + 2 * y + 3 * z) as f32);
        let label = image.mapv(|v| u8::from(v > 10.0));
        let affine = Affine::identity();
        let options = voxflow_io_nifti::WriteOptions::default();
        voxflow_io_nifti::write(dir.path().join("subject.nii.gz"), &Volume::image3(image, affine), &options)
            .expect("write image");
        voxflow_io_nifti::write(
            dir.path().join("subject_label.nii.gz"),
            &Volume::label3(label, affine),
            &options,
        )
        .expect("write label");
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// A graph file whose nodes are `nodes` (JSON objects, comma-separated).
    fn graph(&self, nodes: &str) -> PathBuf {
        self.write("graph.json", format!("{{\"seed\": 1, \"nodes\": [\n{nodes}\n]}}\n").as_bytes())
    }

    /// Runs `graphrun run GRAPH -o OUT -q ARGS...` and renders its exit code and stderr, with
    /// the scratch folder's path redacted.
    fn run(&self, graph: &Path, args: &[&str]) -> String {
        let mut all: Vec<std::ffi::OsString> =
            vec!["run".into(), graph.into(), "-o".into(), self.path("out").into()];
        all.extend(["-q"].iter().chain(args).map(Into::into));
        self.graphrun(&all)
    }

    /// Runs `graphrun ARGS...` and renders its exit code and stderr, with the scratch folder's
    /// path redacted.
    fn graphrun(&self, args: &[std::ffi::OsString]) -> String {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX")
            .current_dir(self.dir.path())
            .output()
            .expect("run graphrun");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let root = self.dir.path().to_string_lossy().into_owned();
        let canonical = std::fs::canonicalize(self.dir.path())
            .map_or_else(|_| root.clone(), |p| p.to_string_lossy().into_owned());
        let stderr = stderr.replace(&canonical, "[TMP]").replace(&root, "[TMP]");
        said_once(&stderr);
        format!("exit code: {}\n{stderr}", out.status.code().map_or("none".into(), |c| c.to_string()))
    }
}

/// The bug this file guards against: a cause printed twice (`...: No such file (os error 2):
/// No such file (os error 2)`). No part of a `a: b: c` line may repeat.
fn said_once(stderr: &str) {
    for line in stderr.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        for (i, part) in parts.iter().enumerate() {
            assert!(!parts[i + 1..].contains(part), "`{part}` is said twice in: {line}");
        }
    }
}

const IMAGE: &str = r#"{"name": "image", "op": "load"}"#;
const LABEL: &str = r#"{"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}}"#;

/// A graph that loads the image, applies `node` (named `x`, fed by `image`) and saves it.
fn through(node: &str) -> String {
    format!(
        "{IMAGE},\n{node},\n{}",
        r#"{"name": "save", "op": "save", "params": {"path": "{case}.nii.gz"}, "inputs": {"volume": "x"}}"#
    )
}

fn with_image(s: &Scratch) -> [String; 2] {
    ["--input".into(), format!("image={}", s.path("subject.nii.gz").display())]
}

#[test]
fn missing_graph_file() {
    let s = Scratch::new();
    insta::assert_snapshot!(s.run(&s.path("nonexistent.json"), &[]));
}

#[test]
fn invalid_json() {
    let s = Scratch::new();
    let g = s.write(
        "graph.json",
        b"{\"seed\": 1, \"nodes\": [\n  {\"name\": \"image\", \"op\": \"load\"}\n  {\"name\": \"x\"}\n]}\n",
    );
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn unknown_top_level_key_suggests_the_nearest() {
    let s = Scratch::new();
    let g = s.write("graph.json", br#"{"seed": 1, "output": 2, "nodes": [{"name": "image", "op": "load"}]}"#);
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn negative_outputs_names_the_key() {
    let s = Scratch::new();
    let g =
        s.write("graph.json", br#"{"seed": 1, "outputs": -1, "nodes": [{"name": "image", "op": "load"}]}"#);
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn unknown_node_field_suggests_the_nearest() {
    let s = Scratch::new();
    let g = s.graph(&format!("{IMAGE},\n{}", r#"{"name": "x", "op": "flip", "input": {"volume": "image"}}"#));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn unknown_op_suggests_the_nearest() {
    let s = Scratch::new();
    let g = s.graph(&through(r#"{"name": "x", "op": "random_rotat", "inputs": {"volume": "image"}}"#));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn unknown_parameter_suggests_the_nearest() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "random_rotate", "params": {"degres": [-10, 10]}, "inputs": {"volume": "image"}}"#,
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn unknown_parameter_of_a_strict_op_suggests_the_nearest() {
    let s = Scratch::new();
    let g = s.graph(&format!(
        "{IMAGE},\n{}",
        r#"{"name": "save", "op": "save", "params": {"path": "a.nii.gz", "gzip_levle": 6}, "inputs": {"volume": "image"}}"#
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn wrong_enum_value_names_the_parameter_and_lists_the_values() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "random_rotate", "params": {"interpolation": "bilinear"}, "inputs": {"volume": "image"}}"#,
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn wrong_type_names_the_parameter() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "random_rotate", "params": {"p": "1.0"}, "inputs": {"volume": "image"}}"#,
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn wrong_type_in_a_list_names_the_element() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "random_rotate", "params": {"degrees": [-10, "10"]}, "inputs": {"volume": "image"}}"#,
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn missing_required_parameter() {
    let s = Scratch::new();
    let g =
        s.graph(&format!("{IMAGE},\n{}", r#"{"name": "save", "op": "save", "inputs": {"volume": "image"}}"#));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn parameter_out_of_range() {
    let s = Scratch::new();
    let g = s.graph(&format!(
        "{IMAGE},\n{}",
        r#"{"name": "save", "op": "save", "params": {"path": "a.nii.gz", "gzip_level": 12}, "inputs": {"volume": "image"}}"#
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn dangling_input_suggests_the_nearest_node() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "imag"}}"#,
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn cycle() {
    let s = Scratch::new();
    let g = s.graph(
        r#"{"name": "a", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "c"}},
{"name": "b", "op": "flip", "params": {"axis": 1}, "inputs": {"volume": "a"}},
{"name": "c", "op": "flip", "params": {"axis": 2}, "inputs": {"volume": "b"}}"#,
    );
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn duplicate_node_name() {
    let s = Scratch::new();
    let g =
        s.graph(&format!("{IMAGE},\n{}", r#"{"name": "image", "op": "load", "params": {"input": "t2"}}"#));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn label_map_into_an_intensity_op() {
    let s = Scratch::new();
    let g = s.graph(&format!(
        "{LABEL},\n{}",
        r#"{"name": "norm", "op": "normalize", "inputs": {"volume": "label"}}"#
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn intensity_draw_applied_to_a_label_map() {
    let s = Scratch::new();
    let g = s.graph(&format!(
        "{LABEL},\n{},\n{}",
        r#"{"name": "gamma", "op": "random_gamma"}"#,
        r#"{"name": "bad", "op": "apply", "inputs": {"volume": "label", "draw": "gamma"}}"#
    ));
    insta::assert_snapshot!(s.run(&g, &[]));
}

#[test]
fn missing_input_file() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "image"}}"#,
    ));
    let missing = format!("image={}", s.path("missing.nii.gz").display());
    insta::assert_snapshot!(s.run(&g, &["--input", &missing]));
}

#[test]
fn garbage_nifti_input() {
    let s = Scratch::new();
    s.write("garbage.nii", b"this is not a NIfTI file, just some text that is long enough to be read");
    let g = s.graph(&through(
        r#"{"name": "x", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "image"}}"#,
    ));
    let garbage = format!("image={}", s.path("garbage.nii").display());
    insta::assert_snapshot!(s.run(&g, &["--input", &garbage]));
}

#[test]
fn corrupt_gzip_input() {
    let s = Scratch::new();
    s.write("corrupt.nii.gz", b"\x1f\x8b not really gzip");
    let g = s.graph(&through(
        r#"{"name": "x", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "image"}}"#,
    ));
    let corrupt = format!("image={}", s.path("corrupt.nii.gz").display());
    insta::assert_snapshot!(s.run(&g, &["--input", &corrupt]));
}

#[test]
fn case_without_the_input_a_load_names() {
    let s = Scratch::new();
    let g = s.graph(&format!(
        "{LABEL},\n{}",
        r#"{"name": "save", "op": "save", "params": {"path": "{case}.nii.gz"}, "inputs": {"volume": "label"}}"#
    ));
    let [flag, image] = with_image(&s);
    insta::assert_snapshot!(s.run(&g, &[&flag, &image]));
}

#[test]
fn existing_outputs_without_resume() {
    let s = Scratch::new();
    let g = s.graph(&through(
        r#"{"name": "x", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "image"}}"#,
    ));
    let [flag, image] = with_image(&s);
    let first = s.run(&g, &[&flag, &image]);
    assert!(first.starts_with("exit code: 0"), "{first}");
    insta::assert_snapshot!(s.run(&g, &[&flag, &image]));
}

#[test]
fn info_on_a_missing_and_a_garbage_file() {
    let s = Scratch::new();
    s.write("garbage.nii", b"this is not a NIfTI file, just some text that is long enough to be read");
    insta::assert_snapshot!(s.graphrun(&[
        "info".into(),
        s.path("missing.nii").into(),
        s.path("garbage.nii").into(),
        s.path("subject.nii.gz").into()
    ]));
}

#[test]
fn unnamed_node() {
    let s = Scratch::new();
    let g = s.graph(&format!("{IMAGE},\n{}", r#"{"op": "flip"}"#));
    insta::assert_snapshot!(s.run(&g, &[]));
}

/// Tidy check: no `#[error(...)]` message of the workspace's crates writes its `source` (the
/// chain is rendered once, by `error_chain`). A `{0}` of a `#[from]`/`#[source]` field is
/// caught by the snapshots above.
#[test]
fn no_error_message_interpolates_its_source() {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                for (i, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("#[error(") && line.contains("{source}") {
                        found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/") {
        let src = entry.expect("entry").path().join("src");
        if src.is_dir() {
            walk(&src, &mut found);
        }
    }
    assert!(found.is_empty(), "error messages that repeat their source:\n{}", found.join("\n"));
}

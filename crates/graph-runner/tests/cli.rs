//! The `graphrun` binary end to end, on small synthetic datasets written with io-nifti.

mod common;

use common::{BIN, GRAPH, affine, dataset, files, graph_file, graphrun, ok, stderr};
use ndarray::Array3;
use std::path::Path;
use std::process::Command;
use voxflow_core::Volume;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

#[test]
fn output_bytes_do_not_depend_on_thread_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 3);
    let g = graph_file(tmp.path());
    let (a, b) = (tmp.path().join("t1"), tmp.path().join("t2"));
    let first = graphrun(&[&g, &"--nnunet", &ds, &"-o", &a, &"--threads", &"1", &"--timings"]);
    ok(&first);
    // Without a terminal: progress lines with done/total, rate and ETA, then the timings and
    // the summary.
    let log = stderr(&first);
    assert!(log.contains("3/3 cases (100%), 0 failed") && log.contains("cases/min"), "{log}");
    assert!(log.contains("time per node") && log.contains("save_label (resampling its input)"), "{log}");
    assert!(log.trim_end().ends_with("3 cases, 6 outputs written, 0 failed"), "{log}");
    ok(&graphrun(&[
        &g,
        &"--nnunet",
        &ds,
        &"-o",
        &b,
        &"--threads",
        &"2",
        &"--max-cases-in-memory",
        &"3",
        &"-q",
    ]));
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 3 * 2 * 2 + 1, "{:?}", fa.keys());
    assert!(fa == fb, "1 and 2 threads wrote different bytes");
    // The draws differ between outputs (so the test is not trivially true).
    let manifest = String::from_utf8_lossy(&fa["manifest.jsonl"]).into_owned();
    let lines: Vec<&str> = manifest.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(
        lines[0].contains(r#""case":"case0","output":0"#)
            && lines[5].contains(r#""case":"case2","output":1"#)
    );
}

#[test]
fn shards_side_by_side_equal_one_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 3);
    let g = graph_file(tmp.path());
    let whole = tmp.path().join("whole");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &whole]));
    let s0 = tmp.path().join("s0");
    let s1 = tmp.path().join("s1");
    ok(&graphrun(&[&"run", &g, &"--nnunet", &ds, &"-o", &s0, &"--shard", &"0/2"]));
    // Shard 1 from a Slurm job array's environment, when asked for.
    let out = Command::new(BIN)
        .args([g.as_os_str(), "--nnunet".as_ref(), ds.as_os_str(), "-o".as_ref(), s1.as_os_str()])
        .args(["--shard", "slurm"])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .expect("run");
    ok(&out);
    assert!(stderr(&out).contains("shard 1 of 2 (Slurm array task 1): 1 of 3 cases"), "{}", stderr(&out));
    let mut merged = files(&s0);
    let m0 = String::from_utf8_lossy(&merged.remove("manifest.jsonl").expect("manifest")).into_owned();
    let mut f1 = files(&s1);
    let m1 = String::from_utf8_lossy(&f1.remove("manifest.jsonl").expect("manifest")).into_owned();
    assert!(m0.contains("\"case0\"") && m0.contains("\"case2\"") && !m0.contains("\"case1\""));
    assert!(m1.contains("\"case1\"") && !m1.contains("\"case0\""));
    merged.extend(f1);
    let mut w = files(&whole);
    let mw = String::from_utf8_lossy(&w.remove("manifest.jsonl").expect("manifest")).into_owned();
    assert!(merged == w, "shards wrote other files than one run");
    let mut lines: Vec<&str> = m0.lines().chain(m1.lines()).collect();
    lines.sort_unstable();
    assert_eq!(lines, mw.lines().collect::<Vec<_>>());
}

#[test]
fn resume_after_a_kill_equals_a_clean_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 3);
    let g = graph_file(tmp.path());
    let clean = tmp.path().join("clean");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &clean]));
    // A run killed part way: case0 complete, case1 output 0 written but its manifest line cut
    // off mid-write, case1 output 1 with only its label, case2 not started, and a leftover
    // temporary file from an interrupted write.
    let killed = tmp.path().join("killed");
    std::fs::create_dir_all(killed.join("case1")).expect("mkdir");
    let clean_files = files(&clean);
    let manifest = String::from_utf8_lossy(&clean_files["manifest.jsonl"]).into_owned();
    let lines: Vec<&str> = manifest.lines().collect();
    let partial = format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..lines[2].len() / 2]);
    std::fs::write(killed.join("manifest.jsonl"), partial).expect("write");
    for f in ["case0/image_0.nii.gz", "case0/label_0.nii.gz", "case0/image_1.nii.gz", "case0/label_1.nii.gz"]
    {
        std::fs::create_dir_all(killed.join("case0")).expect("mkdir");
        std::fs::write(killed.join(f), &clean_files[f]).expect("write");
    }
    std::fs::write(killed.join("case1/label_1.nii.gz"), &clean_files["case1/label_1.nii.gz"]).expect("write");
    // A temporary file of a process of this machine that is gone (no pid is that large) is
    // removed; one of a live process (this test) or of another machine is not its to touch.
    let host = voxflow_io_nifti::write::host_name();
    let dead = format!("case1/.voxflow-999999999@{host}@x1y2z3.tmp");
    let live = format!("case1/.voxflow-{}@{host}@a1b2c3.tmp", std::process::id());
    let elsewhere = "case1/.voxflow-12@another-node@d4e5f6.tmp";
    for name in [dead.as_str(), live.as_str(), elsewhere] {
        std::fs::write(killed.join(name), b"half a gzip stream").expect("write");
    }
    let image0 = &clean_files["case1/image_0.nii.gz"];
    std::fs::write(killed.join("case1/image_0.nii.gz"), &image0[..image0.len() / 3]).expect("write");
    // Without a flag, existing outputs are an error (exit 2) that names both flags.
    let refused = graphrun(&[&g, &"--nnunet", &ds, &"-o", &killed]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--resume") && stderr(&refused).contains("--overwrite"));
    let resumed = graphrun(&[&g, &"--nnunet", &ds, &"-o", &killed, &"--resume"]);
    ok(&resumed);
    assert!(stderr(&resumed).contains("3 cases, 4 outputs written, 2 skipped"), "{}", stderr(&resumed));
    assert!(!killed.join(&dead).exists(), "a dead process's temporary file stays");
    for name in [live.as_str(), elsewhere] {
        assert!(killed.join(name).exists(), "{name} was removed");
        std::fs::remove_file(killed.join(name)).expect("rm");
    }
    assert!(files(&killed) == clean_files, "a resumed run differs from a clean one");
}

#[test]
fn a_bad_case_fails_alone_with_case_node_and_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 4);
    // case1: a corrupt image. case2: a label on another grid.
    std::fs::write(ds.join("imagesTr/case1_0000.nii.gz"), b"\x1f\x8b not really gzip").expect("write");
    let small = Array3::<u8>::zeros((12, 20, 16));
    voxflow_io_nifti::write(
        ds.join("labelsTr/case2.nii.gz"),
        &Volume::label3(small, affine()),
        &voxflow_io_nifti::WriteOptions::default(),
    )
    .expect("write");
    let g = graph_file(tmp.path());
    let out_dir = tmp.path().join("out");
    let out = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out_dir, &"--threads", &"2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("4 cases, 4 outputs written, 2 failed"), "{err}");
    assert!(
        err.contains("case `case1`") && err.contains("node `image`") && err.contains("case1_0000.nii.gz"),
        "{err}"
    );
    assert!(err.contains("case `case2`") && err.contains("another grid"), "{err}");
    assert!(err.contains("case2_0000.nii.gz") && err.contains("labelsTr/case2.nii.gz"), "{err}");
    let written = files(&out_dir);
    assert!(written.contains_key("case0/image_1.nii.gz") && written.contains_key("case3/label_1.nii.gz"));
    assert!(!written.keys().any(|k| k.starts_with("case1/") || k.starts_with("case2/")));
}

#[test]
fn replay_of_a_manifest_line_gives_identical_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 2);
    let g = graph_file(tmp.path());
    let run = tmp.path().join("run");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &run]));
    let replayed = tmp.path().join("replayed");
    let reference = format!("{}:4", run.join("manifest.jsonl").display());
    ok(&graphrun(&[&"replay", &reference, &"-o", &replayed]));
    let original = files(&run);
    let again = files(&replayed);
    for name in ["case1/image_1.nii.gz", "case1/label_1.nii.gz"] {
        assert!(again.get(name) == original.get(name), "{name} differs after replay");
    }
    // The line itself works as a reference too.
    let manifest = String::from_utf8_lossy(&original["manifest.jsonl"]).into_owned();
    let line = manifest.lines().next().expect("a line");
    let replayed0 = tmp.path().join("replayed0");
    ok(&graphrun(&[&"replay", &line, &"-o", &replayed0]));
    assert!(files(&replayed0).get("case0/image_0.nii.gz") == original.get("case0/image_0.nii.gz"));
}

#[test]
fn dry_run_lists_outputs_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 2);
    let g = graph_file(tmp.path());
    let out_dir = tmp.path().join("out");
    let out = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out_dir, &"--dry-run", &"--outputs", &"3"]);
    ok(&out);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(listed.lines().count(), 2 * 3 * 2, "{listed}");
    assert!(listed.contains("case1/label_2.nii.gz"));
    assert!(!out_dir.exists());
}

#[test]
fn datasets_from_list_globs_and_inputs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 2);
    let g = graph_file(tmp.path());
    let csv = ds.join("cases.csv");
    std::fs::write(
        &csv,
        "case,image,label\ncase0,imagesTr/case0_0000.nii.gz,labelsTr/case0.nii.gz\ncase1,imagesTr/case1_0000.nii.gz,labelsTr/case1.nii.gz\n",
    )
    .expect("write");
    let reference = tmp.path().join("nnunet");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &reference]));
    let from_list = tmp.path().join("list");
    ok(&graphrun(&[&g, &"--list", &csv, &"-o", &from_list]));
    assert!(files(&from_list) == files(&reference), "--list differs from --nnunet");
    let from_glob = tmp.path().join("glob");
    let images = format!("{}/imagesTr/case*_0000.nii.gz", ds.display());
    let labels = format!("{}/labelsTr/*.nii.gz", ds.display());
    ok(&graphrun(&[&g, &"--images", &images, &"--labels", &labels, &"-o", &from_glob]));
    // Glob case ids are the image stems (`case0_0000`), so the draws (and bytes) differ.
    let a: Vec<Vec<u8>> =
        files(&from_glob).into_iter().filter(|(k, _)| k != "manifest.jsonl").map(|(_, v)| v).collect();
    let b: Vec<Vec<u8>> =
        files(&reference).into_iter().filter(|(k, _)| k != "manifest.jsonl").map(|(_, v)| v).collect();
    assert_eq!(a.len(), b.len());
    let single = tmp.path().join("single");
    let image = format!("image={}", ds.join("imagesTr/case0_0000.nii.gz").display());
    let label = format!("label={}", ds.join("labelsTr/case0.nii.gz").display());
    ok(&graphrun(&[&g, &"--input", &image, &"--input", &label, &"-o", &single]));
    assert!(single.join("case0_0000/label_1.nii.gz").is_file());
}

#[test]
fn info_json_matches_nibabel() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{DATA}expected.json")).expect("data/expected.json"),
    )
    .expect("json");
    let expected = expected.as_object().expect("object");
    let paths: Vec<String> = expected.keys().map(|k| format!("{DATA}{k}")).collect();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"info", &"--json"];
    for p in &paths {
        args.push(p);
    }
    let out = graphrun(&args);
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let infos: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(infos.len(), expected.len());
    let close = |a: f64, b: f64, rel: f64| (a - b).abs() <= rel * b.abs().max(1.0);
    for (info, (name, want)) in infos.iter().zip(expected) {
        assert!(info["path"].as_str().expect("path").ends_with(name.as_str()));
        assert_eq!(info["shape"], want["shape"], "{name}");
        assert_eq!(info["nifti_version"], want["nifti_version"], "{name}");
        for (key, want_key, rel) in [("sum", "sum_scaled", 1e-5), ("min", "min", 1e-6), ("max", "max", 1e-6)]
        {
            let (a, b) = (info[key].as_f64().expect("number"), want[want_key].as_f64().expect("number"));
            assert!(close(a, b, rel), "{name} {key}: {a} vs {b}");
        }
        for r in 0..4 {
            for c in 0..4 {
                let a = info["affine"][r][c].as_f64().expect("number");
                let b = want["affine"][r][c].as_f64().expect("number");
                assert!((a - b).abs() < 1e-5, "{name} affine[{r}][{c}]: {a} vs {b}");
            }
        }
        let scaled = want["scaled_dtype"].as_str().expect("dtype").trim_start_matches(['<', '>', '=']);
        let computed = info["computed_dtype"].as_str().expect("dtype");
        assert!(
            scaled.ends_with(computed) || computed == scaled.replace("i2", "int16"),
            "{name}: {computed} vs {scaled}"
        );
    }
    let human = graphrun(&[&"info", &format!("{DATA}standard.nii.gz")]);
    ok(&human);
    assert!(String::from_utf8_lossy(&human.stdout).contains("4x5x7"));
}

#[test]
fn validate_ops_schema_and_dot() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = graph_file(tmp.path());
    ok(&graphrun(&[&"validate", &g]));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, GRAPH.replace(r#""draw": "noise""#, r#""draw": "nois""#)).expect("write");
    let out = graphrun(&[&"validate", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("node `image_n`") && stderr(&out).contains("`nois`"), "{}", stderr(&out));

    let ops = graphrun(&[&"ops"]);
    ok(&ops);
    let listed = String::from_utf8_lossy(&ops.stdout).into_owned();
    for name in ["load", "save", "apply", "random_flip", "random_noise"] {
        assert!(listed.lines().any(|l| l == name), "{name} missing from `graphrun ops`");
    }

    let schema = graphrun(&[&"schema"]);
    ok(&schema);
    assert_eq!(String::from_utf8_lossy(&schema.stdout), voxflow_graph_runner::graph::schema_json());

    let dot = graphrun(&[&"dot", &g]);
    ok(&dot);
    let dot = String::from_utf8_lossy(&dot.stdout).into_owned();
    assert!(dot.starts_with("digraph"));
    assert!(dot.contains(r#""label_f" [label="label_f\napply", shape=box, fillcolor=palegreen]"#), "{dot}");
    assert!(dot.contains(r#""flip" -> "label_f" [label="draw", color=orange, style=dashed"#), "{dot}");
    assert!(dot.contains(r#""image_f" -> "image_s" [label="volume", color=blue]"#), "{dot}");
}

#[test]
fn resume_redoes_outputs_whose_files_changed_since_they_were_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 2);
    let g = graph_file(tmp.path());
    let out = tmp.path().join("out");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out]));
    let clean = files(&out);
    // One file emptied (as a crash before fsync could leave it), one changed in place at the
    // same size (only the CRC-32 tells), one cut short.
    std::fs::write(out.join("case0/image_0.nii.gz"), b"").expect("write");
    let mut changed = clean["case1/label_1.nii.gz"].clone();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    std::fs::write(out.join("case1/label_1.nii.gz"), &changed).expect("write");
    let image = &clean["case1/image_0.nii.gz"];
    std::fs::write(out.join("case1/image_0.nii.gz"), &image[..image.len() - 10]).expect("write");
    let resumed = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--resume"]);
    ok(&resumed);
    assert!(stderr(&resumed).contains("2 cases, 3 outputs written, 1 skipped"), "{}", stderr(&resumed));
    assert!(files(&out) == clean, "a resumed run differs from a clean one");
    let manifest = String::from_utf8_lossy(&clean["manifest.jsonl"]).into_owned();
    assert!(manifest.lines().all(|l| l.contains("\"file_checks\"") && l.contains("\"crc32\"")), "{manifest}");
}

#[test]
fn replay_refuses_an_edited_line_that_would_write_outside_the_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 1);
    let g = graph_file(tmp.path());
    let run = tmp.path().join("run");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &run]));
    let manifest = std::fs::read_to_string(run.join("manifest.jsonl")).expect("manifest");
    let line = manifest.lines().next().expect("a line");
    let nested = tmp.path().join("a/b");
    for bad in ["../../escaped", "/abs/escaped", ".."] {
        let edited = line.replace("\"case\":\"case0\"", &format!("\"case\":\"{bad}\""));
        assert_ne!(edited, line);
        let out = graphrun(&[&"replay", &edited, &"-o", &nested]);
        assert_ne!(out.status.code(), Some(0), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("case id"), "{bad}: {}", stderr(&out));
    }
    assert!(!tmp.path().join("escaped").exists() && !Path::new("/abs").exists());
}

#[test]
fn datalists_and_manifest_name_each_file_by_its_save_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 2);
    let g = graph_file(tmp.path());
    let out = tmp.path().join("out");
    let json = out.join("datalist.json");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--datalist", &json]));
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("datalist")).expect("json");
    let entries = list["training"].as_array().expect("MONAI's `training` list");
    assert_eq!(entries.len(), 4);
    for e in entries {
        for key in ["image", "label"] {
            let rel = e[key].as_str().unwrap_or_else(|| panic!("{key} in {e}"));
            assert!(!Path::new(rel).is_absolute() && out.join(rel).is_file(), "{rel}");
        }
        let expected = format!("{}/image_{}.nii.gz", e["case"].as_str().expect("case"), e["output"]);
        assert_eq!(e["image"], expected.as_str());
    }
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).expect("manifest");
    let first: serde_json::Value =
        serde_json::from_str(manifest.lines().next().expect("line")).expect("json");
    assert_eq!(first["saved"]["save_label"], "case0/label_0.nii.gz");
    // A CSV outside the output folder: absolute paths; a datalist of another kind is refused.
    std::fs::create_dir_all(tmp.path().join("lists")).expect("mkdir");
    let csv = tmp.path().join("lists/list.csv");
    ok(&graphrun(&[&"merge", &out, &"--datalist", &csv]));
    let text = std::fs::read_to_string(&csv).expect("csv");
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "case,output,image,label");
    assert_eq!(rows.len(), 5);
    let image = rows[1].split(',').nth(2).expect("image column");
    assert!(Path::new(image).is_absolute() && Path::new(image).is_file(), "{image}");
    let bad = graphrun(&[&"merge", &out, &"--datalist", &tmp.path().join("list.txt")]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(stderr(&bad).contains(".json or .csv"), "{}", stderr(&bad));
}

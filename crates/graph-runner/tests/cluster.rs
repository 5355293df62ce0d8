//! Several `graphrun` processes writing into one output folder at the same time, as the tasks
//! of a Slurm job array or a Kubernetes Indexed Job do: nothing lost, every file and the
//! merged manifest equal to one run's; `graphrun status`, `merge` and `--only-failed`.
//! (The same on a real Slurm cluster: `tests/cluster/slurm.sh`, run by CI.)

mod common;

use common::{BIN, GRAPH, dataset, files, graphrun, ok, stderr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cluster/");

/// The test graph with nnU-Net's flat layout (`{case}_image_{output}`): every process writes
/// into the same folder.
fn flat_graph(root: &Path) -> PathBuf {
    let path = root.join("flat.json");
    let text = GRAPH
        .replace("{case}/image_{output}.nii.gz", "{case}_image_{output}.nii.gz")
        .replace("{case}/label_{output}.nii.gz", "{case}_label_{output}.nii.gz");
    std::fs::write(&path, text).expect("write graph");
    path
}

fn spawn(args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args.iter().map(AsRef::as_ref));
    cmd.env_remove("SLURM_ARRAY_TASK_ID").env_remove("JOB_COMPLETION_INDEX").env_remove("VOXFLOW_SHARD");
    cmd.env_remove("VOXFLOW_SHARD_COUNT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn graphrun")
}

fn wait_all(children: Vec<Child>) -> Vec<Output> {
    children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect()
}

fn status_json(out: &Path) -> (Option<i32>, serde_json::Value) {
    let o = graphrun(&[&"status", &out, &"--json"]);
    let json = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    (o.status.code(), json)
}

/// Files and manifest of a folder against the single run's, byte for byte.
fn assert_same(reference: &BTreeMap<String, Vec<u8>>, out: &Path, what: &str) {
    let got = files(out);
    let missing: Vec<&String> = reference.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !reference.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: missing {missing:?}, extra {extra:?}");
    for (name, bytes) in reference {
        assert!(got[name] == *bytes, "{what}: {name} differs from the single run's");
    }
}

#[test]
fn concurrent_shards_into_one_folder_equal_one_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 12);
    let g = flat_graph(tmp.path());
    let single = tmp.path().join("single");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &single, &"--threads", &"1"]));
    let reference = files(&single);
    assert_eq!(reference.len(), 12 * 2 * 2 + 1);
    for n in [2usize, 4, 8] {
        for round in 0..2 {
            let out = tmp.path().join(format!("n{n}_{round}"));
            // The README's recipe: every task with --resume, all started at once.
            let children = (0..n)
                .map(|k| {
                    let shard = format!("{k}/{n}");
                    spawn(
                        &[
                            &g,
                            &"--nnunet",
                            &ds,
                            &"-o",
                            &out,
                            &"--threads",
                            &"1",
                            &"--resume",
                            &"--shard",
                            &shard,
                        ],
                        &[],
                    )
                })
                .collect();
            for o in wait_all(children) {
                ok(&o);
            }
            assert_same(&reference, &out, &format!("{n} shards, round {round}"));
            let (code, status) = status_json(&out);
            assert_eq!(code, Some(0), "{status}");
            assert_eq!(status["done"], 24);
            assert_eq!(status["shards"].as_array().map(Vec::len), Some(n));
            // Merging again changes nothing (idempotent).
            ok(&graphrun(&[&"merge", &out]));
            assert_same(&reference, &out, "after graphrun merge");
        }
    }
}

/// The Job YAML of `docs/cluster`: its `args`, `env` and `completions`, run as its pods would be
/// (with `$(VAR)` expanded as Kubernetes does), every pod at once.
#[test]
fn the_kubernetes_indexed_job_of_the_docs_runs_as_one_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 6);
    let g = flat_graph(tmp.path());
    let yaml = std::fs::read_to_string(format!("{DOCS}voxflow-job.yaml")).expect("the Job YAML");
    let field = |key: &str| {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
            .unwrap_or_else(|| panic!("{key} in the Job YAML"))
            .to_owned()
    };
    let completions: usize = field("completions:").parse().expect("completions");
    let args: Vec<String> = serde_json::from_str(&field("args:")).expect("args as a flow sequence");
    let mut env: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = yaml.lines().map(str::trim).collect();
    for pair in lines.windows(2) {
        if let (Some(name), Some(value)) = (pair[0].strip_prefix("- name: "), pair[1].strip_prefix("value: "))
        {
            env.push((name.to_owned(), value.trim_matches('"').to_owned()));
        }
    }
    let out = tmp.path().join("out");
    for (k, v) in &mut env {
        match k.as_str() {
            "GRAPH" => *v = g.display().to_string(),
            "DATASET" => *v = ds.display().to_string(),
            "OUTPUT" => *v = out.display().to_string(),
            _ => {}
        }
    }
    assert_eq!(
        env.iter().find(|(k, _)| k == "VOXFLOW_SHARD_COUNT").map(|(_, v)| v.clone()),
        Some(completions.to_string())
    );
    let expand = |arg: &String| env.iter().fold(arg.clone(), |a, (k, v)| a.replace(&format!("$({k})"), v));
    let args: Vec<String> = args.iter().map(expand).collect();
    let outputs = args.iter().position(|a| a == "--outputs").map(|i| args[i + 1].clone()).expect("--outputs");
    let single = tmp.path().join("single");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &single, &"--outputs", &outputs]));
    let children = (0..completions)
        .map(|index| {
            let mut pod_env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            pod_env.push(("JOB_COMPLETION_INDEX", index.to_string()));
            let refs: Vec<&dyn AsRef<std::ffi::OsStr>> =
                args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect();
            spawn(&refs, &pod_env)
        })
        .collect();
    for (i, o) in wait_all(children).iter().enumerate() {
        ok(o);
        let log = stderr(o);
        assert!(
            log.contains(&format!("shard {i} of {completions} (Kubernetes completion index {i})")),
            "{log}"
        );
    }
    assert_same(&files(&single), &out, "the Indexed Job");
    assert_eq!(status_json(&out).0, Some(0));
}

#[test]
fn status_tells_incomplete_runs_and_only_failed_reruns_what_failed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 6);
    let g = flat_graph(tmp.path());
    let single = tmp.path().join("single");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &single]));
    let reference = files(&single);
    // Case 1's image is broken for the first run.
    let image1 = ds.join("imagesTr/case1_0000.nii.gz");
    let good = std::fs::read(&image1).expect("read");
    std::fs::write(&image1, b"not a NIfTI file").expect("write");

    let out = tmp.path().join("out");
    for k in 0..2 {
        let shard = format!("{k}/3");
        let o = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--shard", &shard]);
        // Shard 1 holds case1 (and case4): it fails, the others finish.
        assert_eq!(o.status.code(), Some(i32::from(k == 1)), "{}", stderr(&o));
    }
    let (code, status) = status_json(&out);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!((status["planned"].as_u64(), status["done"].as_u64()), (Some(12), Some(6)));
    assert_eq!((status["failed"].as_u64(), status["missing"].as_u64()), (Some(2), Some(4)));
    let shards = status["shards"].as_array().expect("shards");
    assert_eq!(shards[2]["writers"], 0, "shard 2 never started: {status}");
    assert_eq!(shards[2]["missing"], 4);
    let failures = status["failures"].as_array().expect("failures");
    assert!(failures.len() == 1 && failures[0]["case"] == "case1", "{status}");
    assert!(failures[0]["message"].as_str().is_some_and(|m| m.contains("case1_0000.nii.gz")), "{status}");
    let text = graphrun(&[&"status", &out]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("incomplete") && text.contains("failed: case `case1`") && text.contains("not started"),
        "{text}"
    );

    // The missing shard, then the failed case alone.
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--shard", &"2/3"]));
    std::fs::write(&image1, good).expect("write");
    let rerun = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--only-failed", &"--shard", &"1/3"]);
    ok(&rerun);
    assert!(stderr(&rerun).contains("1 case(s) with a failure"), "{}", stderr(&rerun));
    assert!(stderr(&rerun).contains("1 cases, 2 outputs written"), "{}", stderr(&rerun));
    let (code, status) = status_json(&out);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["failures"].as_array().map(Vec::len), Some(0));
    assert_same(&reference, &out, "after --only-failed");
}

#[test]
fn shards_never_undo_each_other() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 4);
    let g = flat_graph(tmp.path());
    let single = tmp.path().join("single");
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &single]));
    let reference = files(&single);
    let out = tmp.path().join("out");
    for k in 0..2 {
        let shard = format!("{k}/2");
        ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--shard", &shard]));
    }
    // Shard 0 again with --overwrite: shard 1's lines stay.
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--shard", &"0/2", &"--overwrite"]));
    assert_same(&reference, &out, "after one shard's --overwrite");
    // A task that computes another split of this folder's run is refused, naming the count.
    let split = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--shard", &"0/1", &"--resume"]);
    assert_eq!(split.status.code(), Some(2));
    assert!(stderr(&split).contains("--shard-count 2"), "{}", stderr(&split));
    // Another seed without --overwrite: refused, nothing written.
    let other = graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--seed", &"8", &"--shard", &"0/2"]);
    assert_eq!(other.status.code(), Some(2));
    assert_same(&reference, &out, "after a refused run");
    // Another seed with --overwrite, as a whole run: the old run's records and lines go.
    ok(&graphrun(&[&g, &"--nnunet", &ds, &"-o", &out, &"--seed", &"8", &"--overwrite"]));
    let (code, status) = status_json(&out);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["seed"], 8);
    assert_eq!(status["other_runs"].as_array().map(Vec::len), Some(0), "{status}");
}

#[test]
fn sharding_from_the_environment_only_when_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = dataset(tmp.path(), 3);
    let g = flat_graph(tmp.path());
    let out = tmp.path().join("out");
    let env = [
        ("SLURM_ARRAY_TASK_ID", "1".to_owned()),
        ("SLURM_ARRAY_TASK_MIN", "0".to_owned()),
        ("SLURM_ARRAY_TASK_MAX", "1".to_owned()),
        ("SLURM_ARRAY_TASK_COUNT", "2".to_owned()),
    ];
    // Not asked: every case, and a warning that says so.
    let o = spawn(&[&g, &"--nnunet", &ds, &"-o", &out], &env).wait_with_output().expect("wait");
    ok(&o);
    assert!(
        stderr(&o).contains("sharding was not asked for: this process runs all 3 cases"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("3 cases, 6 outputs written"), "{}", stderr(&o));
    // Asked through VOXFLOW_SHARD.
    let out2 = tmp.path().join("out2");
    let mut env2 = env.to_vec();
    env2.push(("VOXFLOW_SHARD", "slurm".to_owned()));
    let o = spawn(&[&g, &"--nnunet", &ds, &"-o", &out2], &env2).wait_with_output().expect("wait");
    ok(&o);
    assert!(stderr(&o).contains("shard 1 of 2 (Slurm array task 1): 1 of 3 cases"), "{}", stderr(&o));
    // A one-task array with id 2 (one index resubmitted) without the count: refused.
    let resubmitted = [
        ("SLURM_ARRAY_TASK_ID", "2".to_owned()),
        ("SLURM_ARRAY_TASK_MIN", "2".to_owned()),
        ("SLURM_ARRAY_TASK_MAX", "2".to_owned()),
        ("SLURM_ARRAY_TASK_COUNT", "1".to_owned()),
    ];
    let o = spawn(&[&g, &"--nnunet", &ds, &"-o", &out2, &"--shard", &"slurm", &"--resume"], &resubmitted)
        .wait_with_output()
        .expect("wait");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--shard-count"), "{}", stderr(&o));
}

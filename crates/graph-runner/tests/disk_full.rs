//! A run whose output folder fills up: a small tmpfs, mounted in a private mount namespace
//! (`unshare -rm`, so no root is needed where user namespaces are allowed). The run must stop
//! starting cases, print the failure and the summary, exit 1, and leave no temporary file; what
//! the manifest lists must be on disk, whole.
//!
//! Where the machine allows no mount namespace, the test says so and passes, unless
//! `VOXFLOW_REQUIRE_TMPFS` is set (CI sets it), when it fails.

use std::fmt::Write as _;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_graphrun");
const EPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/someones_epi.nii.gz");

const GRAPH: &str = r#"{"nodes": [
  {"name": "in", "op": "load"},
  {"name": "out", "op": "save", "params": {"path": "{case}/image_{output}.nii", "gzip_level": 0}, "inputs": {"volume": "in"}}
]}"#;

#[test]
fn a_full_disk_stops_the_run_with_a_summary_and_no_temporary_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let graph = root.path().join("graph.json");
    std::fs::write(&graph, GRAPH).expect("graph");
    // 12 cases of 53x61x33 float32 (427 KB each, uncompressed) into a 1.5 MB folder.
    let list = root.path().join("cases.csv");
    let rows: String = (0..12).fold(String::new(), |mut rows, i| {
        let _ = writeln!(rows, "case{i:02},{EPI}");
        rows
    });
    std::fs::write(&list, format!("case,image\n{rows}")).expect("list");
    let out = root.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let script = format!(
        "mount -t tmpfs -o size=1500k tmpfs '{out}' || exit 77
         '{BIN}' run '{graph}' -o '{out}' --list '{list}' --threads 1 --max-cases-in-memory 1
         echo \"exit=$?\"
         echo '--- tmp files:'
         find '{out}' -name '*.tmp'
         echo '--- manifest:'
         cat '{out}/manifest.jsonl'
         echo '--- sizes:'
         find '{out}' -name '*.nii' -printf '%P %s\\n'",
        out = out.display(),
        graph = graph.display(),
        list = list.display(),
    );
    let result = Command::new("unshare").args(["-rm", "sh", "-c", &script]).output();
    let required = std::env::var_os("VOXFLOW_REQUIRE_TMPFS").is_some();
    let result = match result {
        Ok(r) if r.status.code() != Some(77) && !String::from_utf8_lossy(&r.stderr).contains("unshare:") => r,
        other => {
            assert!(!required, "cannot mount a tmpfs here (VOXFLOW_REQUIRE_TMPFS is set): {other:?}");
            eprintln!("skipped: no private tmpfs on this machine ({other:?})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("exit=1"), "{report}");
    assert!(stderr.contains("No space left on device"), "{report}");
    assert!(stderr.contains("12 cases") && stderr.contains("not started"), "{report}");
    let section = |name: &str| -> Vec<String> {
        let start = stdout.find(&format!("--- {name}:")).expect("section") + name.len() + 5;
        stdout[start..].lines().skip(1).take_while(|l| !l.starts_with("---")).map(str::to_owned).collect()
    };
    assert!(section("tmp files").iter().all(String::is_empty), "temporary files left:\n{report}");
    // Every output the manifest lists is on disk at the size it recorded.
    let sizes: Vec<String> = section("sizes");
    let manifest = section("manifest");
    assert!(!manifest.is_empty(), "nothing was written before the disk filled:\n{report}");
    for line in manifest.iter().filter(|l| !l.is_empty()) {
        let line: serde_json::Value = serde_json::from_str(line).expect("manifest line");
        let file = line["files"][0].as_str().expect("file");
        let bytes = line["file_checks"][0]["bytes"].as_u64().expect("bytes");
        assert!(
            sizes.contains(&format!("{file} {bytes}")),
            "{file} ({bytes} bytes) is not on disk whole:\n{report}"
        );
    }
}

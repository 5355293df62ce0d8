//! Benchmarks of the runner area: `graphs/tutorial.json` over 16 MNI-sized cases (image +
//! label, copies of the MNI152 sample under 16 case ids, so draws differ per case) x 4
//! outputs, through the library the `graphrun` binary uses, with all the machine's threads.
//!
//! Reported: ms per case (4 outputs), cases/s and the peak resident memory of the run
//! (`VmHWM`, reset through `/proc/self/clear_refs` first, so earlier areas do not count). The
//! Python baseline (`xtask/python/runner.py`) runs the tutorial's numpy/scipy chain on one
//! case with two outputs and scales to four (its full-size elastic smoothing takes seconds).

use super::{Row, workspace_root};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::Instant;
use voxflow_graph_runner::{Case, Graph, RunOptions, run};

const CASES: usize = 16;
const OUTPUTS: u64 = 4;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn rows() -> Result<Vec<Row>> {
    voxflow_graph_runner::register_all();
    let root = workspace_root();
    let graph = Graph::from_path(&root.join("graphs/tutorial.json")).context("graphs/tutorial.json")?;
    let tmp = std::env::temp_dir().join(format!("voxflow-bench-runner-{}", std::process::id()));
    let data = tmp.join("data");
    std::fs::create_dir_all(&data)?;
    let mut cases = Vec::new();
    for c in 0..CASES {
        let id = format!("case{c:02}");
        let image = data.join(format!("{id}_0000.nii.gz"));
        let label = data.join(format!("{id}.nii.gz"));
        std::fs::copy(root.join("data/mni152_t1.nii.gz"), &image)?;
        std::fs::copy(root.join("data/mni152_tissue_labels.nii.gz"), &label)?;
        let inputs = BTreeMap::from([("image".to_owned(), image), ("label".to_owned(), label)]);
        cases.push(Case { id, inputs });
    }
    let threads = rayon::current_num_threads();
    let mut opts = RunOptions::new(tmp.join("out"));
    opts.threads = threads;
    opts.max_cases_in_memory = threads;
    opts.outputs = Some(OUTPUTS);
    opts.overwrite = true;
    // Reset the peak RSS so this area's peak is its own (Linux >= 4.0; ignored elsewhere).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = Instant::now();
    let summary = run::run(&graph, &cases, &opts)?;
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(summary.failures.is_empty(), "bench run failed: {:?}", summary.failures);
    let peak = vm_hwm_kib().map_or_else(|| "?".to_owned(), |k| format!("{:.0} MiB", k as f64 / 1024.0));
    println!(
        "runner: {CASES} cases x {OUTPUTS} outputs in {elapsed:.2} s = {:.2} cases/s, {:.2} outputs/s, \
         peak RSS {peak} ({threads} threads, at most {threads} cases in memory)",
        CASES as f64 / elapsed,
        (CASES as u64 * OUTPUTS) as f64 / elapsed,
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(vec![Row {
        name: "tutorial graph, MNI image+label, 4 outputs (per case)".to_owned(),
        voxflow_ms: elapsed * 1e3 / CASES as f64,
        target_ms: None,
        baseline: "numpy/scipy/nibabel tutorial chain (1 case x 2 outputs, scaled)",
    }])
}

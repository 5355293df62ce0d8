//! `cargo xtask bench`: a table of voxflow timings beside the Python tools they replace.
//!
//! Each area (`io`, `geometry`, ...) lives in its own file and returns [`Row`]s. Timings are
//! medians of several runs, measured in-process on the same machine as the Python baseline,
//! which runs through `xtask/python/<area>.py` and prints `{"row name": milliseconds}` as JSON.

mod elastic;
mod geometry;
mod intensity;
mod io;
mod runner;

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One line of the speed table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured, e.g. "rotate order 1, 256^3 f32". Also the key of the Python baseline.
    pub name: String,
    pub voxflow_ms: f64,
    /// The target for voxflow, if any.
    pub target_ms: Option<f64>,
    /// What the baseline is, e.g. "scipy.ndimage.rotate".
    pub baseline: &'static str,
}

/// Median wall time of `f` over `runs` runs (after one warm-up), in milliseconds.
#[allow(dead_code)] // used by the areas as they get rows
pub fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Median wall time of `f` over `runs` runs (after one warm-up), in milliseconds, each run on
/// a fresh input made by `setup` outside the timed region (e.g. an owned copy of a volume for
/// an op that works in place); what `f` returns is dropped outside it too.
pub fn median_ms_with<T, R>(runs: usize, mut setup: impl FnMut() -> T, mut f: impl FnMut(T) -> R) -> f64 {
    drop(f(setup()));
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let out = f(input);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            drop(out);
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Runs `xtask/python/<area>.py` and reads its `{"row name": ms}` JSON from stdout.
pub fn python_baselines(area: &str) -> Result<BTreeMap<String, f64>> {
    let script = workspace_root().join("xtask/python").join(format!("{area}.py"));
    let out = std::process::Command::new("python3")
        .arg(&script)
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).with_context(|| format!("parsing the output of {}", script.display()))
}

#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}

type Area = (&'static str, fn() -> Result<Vec<Row>>);
const AREAS: &[Area] = &[
    ("io", io::rows),
    ("geometry", geometry::rows),
    ("intensity", intensity::rows),
    ("elastic", elastic::rows),
    ("runner", runner::rows),
];

pub fn run(only: Option<&str>, with_python: bool) -> Result<()> {
    println!(
        "threads: {} (rayon), machine cores: {}",
        rayon_threads(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    println!(
        "{:<48} {:>10} {:>10} {:>12} {:>8}  baseline is",
        "what", "voxflow", "target", "baseline", "ratio"
    );
    for (area, rows) in AREAS {
        if only.is_some_and(|o| !area.contains(o)) {
            continue;
        }
        let rows = rows().with_context(|| format!("benchmark area {area}"))?;
        let baselines = if with_python { python_baselines(area)? } else { BTreeMap::new() };
        for row in rows {
            let target = row.target_ms.map_or("-".to_owned(), |t| format!("≤{t:.0} ms"));
            let met = match row.target_ms {
                Some(t) if row.voxflow_ms > t => " (target missed)",
                _ => "",
            };
            let (base, ratio) = match baselines.get(&row.name) {
                Some(b) => (format!("{b:.1} ms"), format!("{:.1}x", b / row.voxflow_ms)),
                None => ("-".to_owned(), "-".to_owned()),
            };
            println!(
                "{:<48} {:>7.1} ms {:>10} {:>12} {:>8}  {}{met}",
                row.name, row.voxflow_ms, target, base, ratio, row.baseline
            );
        }
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

//! `cargo xtask doc-coverage`: rustdoc's own example coverage of the op crates (the share of
//! public items that should have a runnable example and do), per crate, failing below a floor.
//!
//! rustdoc measures it (`--show-coverage`, an unstable flag: `RUSTC_BOOTSTRAP=1` lets the
//! stable toolchain's rustdoc use it, as it only reports and changes no build). The items it
//! counts are public functions, methods, structs, enums and traits; fields, variants,
//! constants, modules and trait-impl methods need no example of their own.

use anyhow::{Context, bail};
use std::process::Command;

/// The crates whose public items are ops and their kernels.
const OP_CRATES: [&str; 4] = ["voxflow-geometry", "voxflow-intensity", "voxflow-elastic", "voxflow-labels"];

/// Counts of one crate, summed over its files.
#[derive(Debug, Default)]
struct Coverage {
    items: u64,
    with_examples: u64,
}

impl Coverage {
    fn percent(&self) -> f64 {
        if self.items == 0 { 100.0 } else { 100.0 * self.with_examples as f64 / self.items as f64 }
    }
}

fn coverage(package: &str) -> anyhow::Result<Coverage> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["rustdoc", "-q", "-p", package, "--", "-Z", "unstable-options", "--show-coverage"])
        .args(["--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .output()
        .with_context(|| format!("running rustdoc on {package}"))?;
    if !output.status.success() {
        bail!("rustdoc --show-coverage failed for {package}:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let files: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("rustdoc's coverage of {package} is not the JSON expected"))?;
    let mut total = Coverage::default();
    for counts in files.values() {
        let count = |k: &str| counts.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        total.items += count("total_examples");
        total.with_examples += count("with_examples");
    }
    Ok(total)
}

/// Prints each op crate's example coverage and fails when one is below `floor` percent.
pub fn run(floor: f64) -> anyhow::Result<()> {
    let mut low = Vec::new();
    println!("{:<20} {:>6} {:>14} {:>8}", "crate", "items", "with examples", "share");
    for package in OP_CRATES {
        let c = coverage(package)?;
        println!("{package:<20} {:>6} {:>14} {:>7.1}%", c.items, c.with_examples, c.percent());
        if c.percent() < floor {
            low.push(format!("{package} ({:.1}%)", c.percent()));
        }
    }
    if !low.is_empty() {
        bail!("rustdoc example coverage below {floor}%: {}", low.join(", "));
    }
    Ok(())
}

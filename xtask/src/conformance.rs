//! `cargo xtask conformance DIR`: every case of the scipy reference folder, through voxflow.

use anyhow::{Context, Result, bail};
use std::path::Path;

pub fn run(dir: &Path) -> Result<()> {
    let manifest = dir.join("manifest.json");
    if !manifest.exists() {
        bail!("{} not found: the scipy reference cases are missing", manifest.display());
    }
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let _manifest: serde_json::Value = serde_json::from_str(&text)?;
    bail!("conformance cases are not wired yet")
}

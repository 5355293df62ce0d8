//! Developer tasks: `cargo xtask bench`, `cargo xtask conformance DIR`, `cargo xtask doc-coverage`.

mod bench;
mod conformance;
mod doc_coverage;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "voxflow developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Times voxflow's ops on 256^3 volumes and the numpy/scipy/nibabel calls they replace,
    /// side by side, and prints the ratio and the target of each.
    Bench {
        /// Only areas whose name contains this (io, geometry, intensity, elastic, runner).
        #[arg(long)]
        only: Option<String>,
        /// Skip the Python baselines (faster; no ratios).
        #[arg(long)]
        no_python: bool,
    },
    /// Runs every case of one or more reference folders (manifest.json + outputs) as graphs,
    /// through the dataset runner `graphrun` uses, and compares. Fails if a folder is missing or
    /// any case differs.
    Conformance {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// rustdoc's example coverage of the op crates (geometry, intensity, elastic, labels): the
    /// share of public functions, methods and types with a runnable example. Fails below the
    /// floor.
    DocCoverage {
        /// The least share, in percent, each crate must reach.
        #[arg(long, default_value_t = 80.0)]
        floor: f64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Bench { only, no_python } => bench::run(only.as_deref(), !no_python),
        Task::Conformance { dirs } => conformance::run(&dirs),
        Task::DocCoverage { floor } => doc_coverage::run(floor),
    }
}

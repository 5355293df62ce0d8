//! `graphrun`: run voxflow graphs over datasets, and inspect graphs, ops and NIfTI files.
//!
//! Exit codes: 0 success, 1 some cases failed (the others finished), 2 usage or graph error.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use voxflow_graph_runner::dataset::{self, Case, Shard};
use voxflow_graph_runner::error_render::error_chain;
use voxflow_graph_runner::{
    Graph, RunError, RunOptions, datalist, dot, info, ledger, manifest, ops, report, run,
};

#[derive(Parser, Debug)]
#[command(name = "graphrun", version, about = "Run voxflow graphs over NIfTI datasets")]
struct Cli {
    /// Only errors and the summary.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a graph over a dataset (`graphrun GRAPH.json ...` is short for this).
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Validate a graph without reading any data: every node's kind, dtype, frames and shape.
    #[command(
        after_help = "Examples:\n  graphrun validate graphs/tutorial.json\n  graphrun -q validate my_graph.json && echo valid"
    )]
    Validate {
        /// The graph file (JSON).
        graph: PathBuf,
    },
    /// List every registered op with its parameters (type, allowed values, default), or one op
    /// in full with `graphrun ops NAME`.
    #[command(
        after_help = "Examples:\n  graphrun ops\n  graphrun ops random_rotate\n  graphrun ops --json > ops.json"
    )]
    Ops {
        /// Show only this op, with each parameter's description.
        name: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the graph file format (for editors: `"$schema"` in a graph).
    #[command(
        after_help = "Examples:\n  graphrun schema > graph.schema.json\n  graphrun schema | python3 -m json.tool | less"
    )]
    Schema,
    /// Show NIfTI files' header and intensity summary (like nib-ls).
    #[command(
        after_help = "Examples:\n  graphrun info data/*.nii.gz\n  graphrun info --json scan.nii.gz | python3 -m json.tool"
    )]
    Info {
        /// NIfTI files (.nii or .nii.gz, NIfTI-1 or -2).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file, per line.
        #[arg(long)]
        json: bool,
    },
    /// Print a graph as Graphviz DOT.
    #[command(
        after_help = "Examples:\n  graphrun dot graphs/tutorial.json --svg tutorial.svg\n  graphrun dot graphs/brats.json | dot -Tpng -o brats.png"
    )]
    Dot {
        /// The graph file (JSON).
        graph: PathBuf,
        /// Also render it to this SVG file with Graphviz's `dot` (which must be installed).
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Draw the middle sagittal, coronal and axial slices of volumes to a PNG or JPEG: world
    /// orientation (radiological: the patient's right on the viewer's left) with R/L, A/P, S/I
    /// letters around every panel, voxel spacing respected, an optional label overlay with a
    /// legend. Several FILEs make a grid, one row per file (e.g. a case's outputs).
    #[command(after_help = PREVIEW_EXAMPLES)]
    Preview(Box<PreviewArgs>),
    /// Re-run one output from its manifest line (`FILE:LINE`, a one-line file, or the JSON line).
    #[command(
        after_help = "Examples:\n  graphrun replay out/manifest.jsonl:3 -o redo\n  tail -1 out/manifest.jsonl > last.jsonl && graphrun replay last.jsonl -o redo"
    )]
    Replay {
        /// The manifest line: `FILE:LINE` (1-based), a file holding one line, or the JSON text.
        reference: String,
        /// The folder to write the output's files into (under their recorded names).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Show how far the run in an output folder is: planned, done, failed and missing outputs,
    /// per shard and in total, and every outstanding failure. Exit 0 only when it is complete.
    #[command(
        after_help = "Examples:\n  graphrun status /scratch/augmented\n  graphrun status /scratch/augmented --json --verify > status.json"
    )]
    Status {
        /// The output folder of the run (`-o` of `graphrun run`).
        output: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Check every done output's files whole (size and CRC-32), not only their size.
        #[arg(long)]
        verify: bool,
    },
    /// Rebuild the output folder's sorted `manifest.jsonl` from every process's lines in
    /// `manifest.d/` (every run does this at its end; run it after a job array to be sure).
    #[command(
        after_help = "Examples:\n  graphrun merge /scratch/augmented\n  graphrun merge /scratch/augmented --report report.html --datalist /scratch/augmented/datalist.json"
    )]
    Merge {
        /// The output folder of the run.
        output: PathBuf,
        /// Also write the HTML report of the whole run to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Also write the outputs as a datalist: MONAI's JSON (`.json`) or a CSV (`.csv`), one
        /// entry per output with a key per save node (`save_image` → `image`).
        #[arg(long)]
        datalist: Option<PathBuf>,
    },
}

// CLI flags are bools by nature.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args, Debug)]
struct RunArgs {
    /// The graph file (JSON): what happens to each case.
    graph: PathBuf,
    /// Output directory (`save` paths are relative to it).
    #[arg(short, long)]
    output: PathBuf,
    /// An nnU-Net raw dataset folder (imagesTr/, labelsTr/).
    #[arg(long, conflicts_with_all = ["images", "list", "input"])]
    nnunet: Option<PathBuf>,
    /// Glob of image files (case id = file stem).
    #[arg(long, conflicts_with_all = ["list", "input"])]
    images: Option<String>,
    /// Glob of label files, paired with images by case id.
    #[arg(long, requires = "images")]
    labels: Option<String>,
    /// A CSV or JSON list of cases (`case` + one column per input).
    #[arg(long, conflicts_with = "input")]
    list: Option<PathBuf>,
    /// NAME=PATH: one case's input (repeatable).
    #[arg(long)]
    input: Vec<String>,
    /// Outputs per case (overrides the graph's `outputs`).
    #[arg(long)]
    outputs: Option<u64>,
    /// Seed (overrides the graph's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Threads for the kernels (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// At most this many cases loaded at once (default: threads).
    #[arg(long)]
    max_cases_in_memory: Option<usize>,
    /// The largest volume any op may make, e.g. `8G`, `512M` (default: half of the machine's
    /// or the cgroup's memory). Output shapes, pads and kernels over it are errors naming the
    /// node and parameter, before anything is allocated.
    #[arg(long, value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Run one shard of the cases: `K/N` (the cases whose sorted index is K mod N), `slurm`
    /// (from the Slurm array task), `k8s` (from a Kubernetes Indexed Job's completion index) or
    /// `auto` (whichever is present). Also read from VOXFLOW_SHARD. Never from the environment
    /// unless asked.
    #[arg(long)]
    shard: Option<String>,
    /// The number of shards (needed with `k8s`; with `slurm` it makes the array task id the
    /// shard index, for stepped or listed arrays and resubmitted tasks). Also VOXFLOW_SHARD_COUNT.
    #[arg(long)]
    shard_count: Option<usize>,
    /// Skip outputs the manifest lists as complete.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Re-run only the cases with a failure recorded in the output folder (implies --resume).
    #[arg(long, conflicts_with = "overwrite")]
    only_failed: bool,
    /// Without a terminal, log a progress line (done/total, rate, ETA) at most every SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    log_every: f64,
    /// Replace existing outputs.
    #[arg(long)]
    overwrite: bool,
    /// List what would be written, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the total time per node at the end.
    #[arg(long)]
    timings: bool,
    /// Write a preview PNG next to every output.
    #[arg(long)]
    previews: bool,
    /// Write a self-contained HTML report (inputs, outputs, draws, timings) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the outputs as a datalist: MONAI's JSON (`.json`, `{"training": [{"image": ...,
    /// "label": ...}]}`) or a CSV (`.csv`), one entry per output, a key per save node
    /// (`save_image` → `image`). With shards: every shard's outputs so far.
    #[arg(long)]
    datalist: Option<PathBuf>,
}

const RUN_EXAMPLES: &str = "\
Examples:
  graphrun run graphs/tutorial.json -o out/tutorial --previews --report out/tutorial/report.html
  graphrun run graphs/recipes/nnunet_augment.json --nnunet Dataset001_Brain -o out --outputs 4 --resume
  graphrun run my_graph.json --images 'scans/*.nii.gz' --labels 'masks/*.nii.gz' -o out --dry-run
  graphrun run my_graph.json --list cases.csv -o /scratch/out --shard slurm   # in a Slurm job array";

const PREVIEW_EXAMPLES: &str = "\
Examples:
  graphrun preview data/mni152_t1.nii.gz --label data/mni152_tissue_labels.nii.gz -o mni.png
  graphrun preview ct.nii.gz --window 400 --level 40 -o ct.jpg
  graphrun preview Dataset001/imagesTr/c1_0000.nii.gz --label Dataset001/labelsTr/c1.nii.gz \\
      --labels Dataset001/dataset.json --outline -o c1.png
  # a grid, one row per file; --label once per file, in the same order ('' for none):
  graphrun preview out/c1/image_0.nii.gz out/c1/image_1.nii.gz out/c1/image_2.nii.gz \\
      --label out/c1/label_0.nii.gz --label out/c1/label_1.nii.gz --label '' -o grid.png";

#[derive(Args, Debug)]
struct PreviewArgs {
    /// The volumes to draw, one row each.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A label map on the same grid as its FILE, overlaid in colour. With several FILEs, give
    /// it once per FILE in the same order (`--label ''` for a FILE without one), or not at all.
    #[arg(long, value_name = "LABEL", value_parser = clap::builder::OsStringValueParser::new())]
    label: Vec<std::ffi::OsString>,
    /// Names for the legend: nnU-Net's or MSD's dataset.json (or its folder), or a text file of
    /// `VALUE NAME` lines. Alone, it looks for dataset.json next to the first FILE and in the
    /// folder above (before the FILEs, write `--labels=FILE`). Without it the legend shows the
    /// label values present.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    // clap's form of a flag whose value is optional: absent, `--labels`, `--labels FILE`.
    #[allow(clippy::option_option)]
    labels: Option<Option<PathBuf>>,
    /// The picture to write: PNG (`.png`) or JPEG (`.jpg`, `.jpeg`), by the extension.
    #[arg(short, long, value_name = "OUT.png|OUT.jpg")]
    output: PathBuf,
    /// Opacity of the filled label overlay, 0 to 1.
    #[arg(long, default_value_t = 0.3)]
    opacity: f32,
    /// Draw label outlines instead of the filled overlay.
    #[arg(long)]
    outline: bool,
    /// The frame of a 4D volume to show, from 0 (the title says which of how many).
    #[arg(long, default_value_t = 0)]
    frame: usize,
    /// Absolute intensity window width (with --level), e.g. CT soft tissue 400.
    #[arg(long, requires = "level", allow_negative_numbers = true)]
    window: Option<f64>,
    /// Absolute intensity window centre (with --window), e.g. CT soft tissue 40.
    #[arg(long, requires = "window", allow_negative_numbers = true)]
    level: Option<f64>,
    /// Intensity window as percentiles of the voxels (default 0.5 99.5).
    #[arg(long, num_args = 2, value_names = ["LOW", "HIGH"], conflicts_with = "window")]
    percentiles: Option<Vec<f64>>,
}

/// A usage or graph error: exit code 2. Transparent: its message and sources are the wrapped
/// error's, so the chain reads the same.
#[derive(Debug)]
struct Usage(anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // anyhow's plain Display is the outermost message only; the sources follow in the chain.
        write!(f, "{}", self.0)
    }
}
impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

fn usage<E: Into<anyhow::Error>>(e: E) -> anyhow::Error {
    anyhow::Error::new(Usage(e.into()))
}

/// `println!` that stops quietly when stdout is closed (`graphrun ops | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

fn main() -> std::process::ExitCode {
    voxflow_graph_runner::register_all();
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| Path::new(a).extension().is_some_and(|e| e == "json")) {
        args.insert(1, "run".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Without a terminal (no progress bar), progress is logged line by line.
    let interactive = std::io::stderr().is_terminal();
    init_logging(cli.quiet, cli.verbose, interactive);
    match dispatch(&cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            // The one place errors are rendered for humans: the chain, once, on one line.
            eprintln!("error: {}", error_chain(e.as_ref()));
            std::process::ExitCode::from(if e.is::<Usage>() { 2 } else { 1 })
        }
    }
}

fn init_logging(quiet: bool, verbose: u8, interactive: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if interactive => "warn",
        (false, 0 | 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(interactive)
        .try_init();
}

fn dispatch(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Run(args) => run_command(args, cli.quiet),
        Command::Validate { graph } => {
            let g = Graph::from_path(graph).map_err(usage)?;
            if !cli.quiet {
                out!(
                    "{}: ok ({} nodes, {} outputs per case, hash {})",
                    graph.display(),
                    g.nodes.len(),
                    g.file.outputs,
                    g.hash
                );
                // What each node outputs, known before any data (kind, dtype, channels, shape).
                for &i in &g.order {
                    let node = &g.nodes[i];
                    out!("  {:<24} {:<22} {}", node.name, node.op_name, node.facts);
                }
            }
            Ok(0)
        }
        Command::Ops { name, json } => {
            let all = match name {
                None => ops::describe_ops(),
                Some(name) => {
                    let known = ops::known_ops();
                    if !known.contains(name) {
                        let hint = voxflow_graph_runner::error_render::nearest(
                            name,
                            known.iter().map(String::as_str),
                        )
                        .map(|n| format!("; did you mean `{n}`?"))
                        .unwrap_or_default();
                        return Err(usage(anyhow::anyhow!("unknown op `{name}`{hint}")));
                    }
                    vec![ops::describe_op(name.clone())]
                }
            };
            if *json {
                out!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for op in &all {
                    out!("{}", op.name);
                    if !op.summary.is_empty() {
                        out!("    {}", op.summary);
                    }
                    if !op.ports.is_empty() {
                        out!("    inputs: {}", op.ports.join(", "));
                    }
                    for p in &op.params {
                        if p.required {
                            out!("    {}: {} (required, e.g. {})", p.name, p.type_text, p.default);
                        } else {
                            out!("    {}: {} = {}", p.name, p.type_text, p.default);
                        }
                        if name.is_some() && !p.description.is_empty() {
                            out!("        {}", p.description);
                        }
                    }
                    if name.is_some() {
                        out!("    example: {}", op.example);
                    }
                    if let Some(r) = &op.required {
                        out!("    (cannot be described: {r})");
                    }
                }
            }
            Ok(0)
        }
        Command::Schema => {
            out!("{}", voxflow_graph_runner::graph::schema_json().trim_end());
            Ok(0)
        }
        Command::Info { files, json } => {
            let mut failed = false;
            for file in files {
                match info::file_info(file) {
                    Ok(i) if *json => out!("{}", serde_json::to_string(&i)?),
                    Ok(i) => out!("{}", info::human_line(&i)),
                    Err(e) => {
                        eprintln!("error: {}", error_chain(&e));
                        failed = true;
                    }
                }
            }
            Ok(u8::from(failed))
        }
        Command::Dot { graph, svg } => {
            let g = Graph::from_path(graph).map_err(usage)?;
            let text = dot::to_dot(&g);
            if let Some(svg) = svg {
                render_svg(&text, svg)?;
            } else {
                out!("{}", text.trim_end());
            }
            Ok(0)
        }
        Command::Preview(args) => {
            preview_command(args)?;
            if !cli.quiet {
                out!("{}", args.output.display());
            }
            Ok(0)
        }
        Command::Status { output, json, verify } => status_command(output, *json, *verify),
        Command::Merge { output, report, datalist } => {
            merge_command(output, report.as_deref(), datalist.as_deref(), cli.quiet)
        }
        Command::Replay { reference, output } => {
            let line = manifest::resolve(reference).map_err(usage)?;
            let record = run::replay(&line, output)?;
            if !cli.quiet {
                for f in &record.files {
                    out!("{}", output.join(f).display());
                }
            }
            Ok(0)
        }
    }
}

/// `graphrun preview`: checks the flags (usage errors) before reading any volume.
fn preview_command(args: &PreviewArgs) -> Result<()> {
    let format = report::picture_format(&args.output).map_err(usage)?;
    if !args.label.is_empty() && args.label.len() != args.files.len() {
        return Err(usage(anyhow::anyhow!(
            "{} files but {} --label: give --label once per file, in the same order (--label '' \
             for a file without one), or not at all",
            args.files.len(),
            args.label.len()
        )));
    }
    let window = match (args.window, args.level, &args.percentiles) {
        (Some(width), Some(level), _) => voxflow_preview::IntensityWindow::Absolute { width, level },
        (_, _, Some(p)) => voxflow_preview::IntensityWindow::Percentiles { low: p[0], high: p[1] },
        _ => voxflow_preview::PreviewOptions::default().window,
    };
    let mut options = voxflow_preview::PreviewOptions {
        window,
        label_opacity: args.opacity,
        outline: args.outline,
        frame: args.frame,
        ..voxflow_preview::PreviewOptions::default()
    };
    options.check().map_err(usage)?;
    options.label_names = match &args.labels {
        None => voxflow_preview::LabelNames::default(),
        Some(Some(path)) => report::read_label_names(path)?,
        Some(None) => report::read_label_names(&report::find_dataset_json(&args.files[0])?)?,
    };
    let rows: Vec<(PathBuf, Option<PathBuf>)> = args
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| (file.clone(), args.label.get(i).filter(|l| !l.is_empty()).map(PathBuf::from)))
        .collect();
    report::preview_files(&rows, &options, &args.output, format)?;
    Ok(())
}

/// Renders DOT text to SVG with Graphviz's `dot`.
fn render_svg(dot_text: &str, svg: &Path) -> Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(svg)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("running Graphviz `dot` (install graphviz for --svg)")?;
    child.stdin.take().context("dot's stdin")?.write_all(dot_text.as_bytes())?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "Graphviz `dot` failed ({status}) writing {}", svg.display());
    Ok(())
}

/// The dataset's cases, and the shard of them this process runs (with where it came from).
struct Selection {
    all: Vec<Case>,
    mine: Vec<Case>,
    shard: Option<(Shard, String)>,
}

fn cases_for(args: &RunArgs, graph: &Graph) -> Result<Selection> {
    let cases = if let Some(dir) = &args.nnunet {
        dataset::nnunet(dir)?
    } else if let Some(images) = &args.images {
        dataset::globs(images, args.labels.as_deref())?
    } else if let Some(list) = &args.list {
        dataset::list(list)?
    } else if !args.input.is_empty() {
        let inputs: BTreeMap<String, String> =
            args.input.iter().map(|a| dataset::parse_input(a)).collect::<Result<_, _>>()?;
        dataset::single(None, &inputs, Path::new(""))?
    } else if let Some(ds) = &graph.file.dataset {
        let base = graph.path.as_deref().and_then(Path::parent).unwrap_or(Path::new("."));
        dataset::single(ds.case.as_deref(), &ds.inputs, base)?
    } else {
        bail!("no dataset: give --nnunet, --images, --list or --input (or a `dataset` in the graph)");
    };
    let shard = Shard::resolve(args.shard.as_deref(), args.shard_count, |k| std::env::var(k).ok())?;
    if shard.is_none() {
        for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
            if std::env::var_os(var).is_some() {
                tracing::warn!(
                    "{var} is set but sharding was not asked for: this process runs all {} cases \
                     (pass --shard slurm, --shard k8s or --shard auto to split them)",
                    cases.len()
                );
            }
        }
    }
    let mine = match &shard {
        Some((s, _)) => s.select(cases.clone()),
        None => cases.clone(),
    };
    Ok(Selection { all: cases, mine, shard })
}

/// Refuses a shard count other than the one the folder's run is being written with: a
/// resubmitted task that computes another split would silently leave cases out.
fn check_shard_consistency(output: &Path, graph: &Graph, seed: u64, shard: Shard) -> Result<()> {
    let folder = ledger::read(output)?;
    let other = folder
        .records
        .iter()
        .filter(|r| r.graph_hash == graph.hash && r.seed == seed)
        .filter_map(|r| r.shard)
        .find(|s| s.count != shard.count);
    if let Some(other) = other {
        bail!(
            "{} is being written by {} shards (see {}/), but this process is shard {} of {}: pass \
             --shard-count {} (or VOXFLOW_SHARD_COUNT), or --overwrite to start the run over",
            output.display(),
            other.count,
            ledger::DIR,
            shard.index,
            shard.count,
            other.count
        );
    }
    Ok(())
}

fn status_command(output: &Path, json: bool, verify: bool) -> Result<u8> {
    let status = match ledger::status(output, verify) {
        Ok(s) => s,
        Err(e @ ledger::StatusError::NoRun(_)) => return Err(usage(e)),
        Err(e) => return Err(e.into()),
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        out!(
            "{}: {} ({}, seed {}), {} cases x {} outputs",
            output.display(),
            if status.complete { "complete" } else { "incomplete" },
            status.graph_hash,
            status.seed,
            status.cases,
            status.outputs_per_case
        );
        out!("  {:<12} {:>8} {:>8} {:>8} {:>8}  processes", "shard", "planned", "done", "failed", "missing");
        for s in &status.shards {
            let name = s.shard.map_or_else(|| "all".to_owned(), |s| format!("{}/{}", s.index, s.count));
            let writers = if s.writers == 0 {
                "not started".to_owned()
            } else {
                format!("{} ({} finished)", s.writers, s.finished_writers)
            };
            out!("  {name:<12} {:>8} {:>8} {:>8} {:>8}  {writers}", s.planned, s.done, s.failed, s.missing);
        }
        out!(
            "  {:<12} {:>8} {:>8} {:>8} {:>8}",
            "total",
            status.planned,
            status.done,
            status.failed,
            status.missing
        );
        for f in &status.failures {
            let output = f.output.map_or_else(String::new, |o| format!(", output {o}"));
            let node = f.node.as_deref().map_or_else(String::new, |n| format!(", node `{n}`"));
            out!("  failed: case `{}`{output}{node}: {}", f.case, f.message);
        }
        for (case, o) in &status.damaged {
            out!("  damaged: case `{case}`, output {o}: a file is missing or changed since it was written");
        }
        for (case, o) in status.missing_outputs.iter().take(20) {
            out!("  missing: case `{case}`, output {o}");
        }
        if status.missing_outputs.len() > 20 {
            out!("  ... {} more missing (--json lists up to 1000)", status.missing - 20);
        }
        for other in &status.other_runs {
            out!("  another run's lines are in the folder: {other}");
        }
    }
    Ok(u8::from(!status.complete))
}

fn merge_command(
    output: &Path,
    report_path: Option<&Path>,
    datalist: Option<&Path>,
    quiet: bool,
) -> Result<u8> {
    if !output.join(ledger::DIR).is_dir() {
        return Err(usage(anyhow::anyhow!(
            "{} has no {}/: not a voxflow output folder",
            output.display(),
            ledger::DIR
        )));
    }
    let merged = ledger::merge(output, |_| Ok(()))?;
    if let Some(path) = report_path {
        write_folder_report(output, path, &merged.folder, &BTreeMap::new())?;
    }
    if let Some(path) = datalist {
        let lines: Vec<manifest::ManifestLine> = merged.folder.done.values().cloned().collect();
        datalist::write(path, output, &lines)?;
    }
    if !quiet {
        out!("{}: {} outputs", manifest::path_in(output).display(), merged.lines);
    }
    Ok(0)
}

/// The report of everything the folder's run has done so far (every shard's outputs and
/// timings), from its merged lines.
fn write_folder_report(
    output: &Path,
    path: &Path,
    folder: &ledger::Folder,
    drawn: &BTreeMap<String, voxflow_preview::report::ReportCase>,
) -> Result<()> {
    let lines: Vec<manifest::ManifestLine> = folder.done.values().cloned().collect();
    let Some(graph_path) = lines.iter().find_map(|l| l.graph.clone()) else {
        bail!("no output of {} names its graph file: cannot write a report", output.display());
    };
    let graph = Graph::from_path(&graph_path).map_err(usage)?;
    let failures: Vec<String> = folder
        .outstanding_failures()
        .into_iter()
        .map(|f| {
            let output = f.output.map_or_else(String::new, |o| format!(", output {o}"));
            let node = f.node.as_deref().map_or_else(String::new, |n| format!(", node `{n}`"));
            format!("case `{}`{output}{node}: {}", f.case, f.message)
        })
        .collect();
    report::write_report(&graph, path, output, &lines, &folder.timings(), &failures, drawn)?;
    Ok(())
}

/// `8G`, `512M`, `1.5GiB`, `64k` or plain bytes (binary units).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 =
        number.trim().parse().map_err(|_| format!("`{text}` is not a size such as 8G or 512M"))?;
    let scale: u64 = match unit.to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use K, M, G or T)")),
    };
    let bytes = number * scale as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("`{text}` is not a usable memory size"));
    }
    Ok(bytes as u64)
}

fn run_command(args: &RunArgs, quiet: bool) -> Result<u8> {
    if let Some(bytes) = args.max_memory {
        voxflow_core::memory::set_budget(bytes);
    }
    let graph = Graph::from_path(&args.graph).map_err(usage)?;
    let selection = cases_for(args, &graph).map_err(usage)?;
    let mut cases = selection.mine;
    let outputs = args.outputs.unwrap_or(graph.file.outputs);
    let seed = args.seed.unwrap_or(graph.file.seed);
    if let Some((shard, source)) = &selection.shard {
        if !args.overwrite {
            check_shard_consistency(&args.output, &graph, seed, *shard).map_err(usage)?;
        }
        if !quiet {
            eprintln!(
                "shard {} of {} ({source}): {} of {} cases",
                shard.index,
                shard.count,
                cases.len(),
                selection.all.len()
            );
        }
    }
    if args.only_failed {
        let folder = ledger::read(&args.output)?;
        let failed: std::collections::BTreeSet<String> =
            folder.outstanding_failures().into_iter().map(|f| f.case.clone()).collect();
        cases.retain(|c| failed.contains(&c.id));
        if !quiet {
            eprintln!("--only-failed: {} case(s) with a failure to re-run", cases.len());
        }
    }
    if !(args.log_every.is_finite() && args.log_every >= 0.0) {
        return Err(usage(anyhow::anyhow!("--log-every must be a number of seconds >= 0")));
    }
    if outputs == 0 {
        return Err(usage(anyhow::anyhow!("--outputs must be at least 1")));
    }
    if args.dry_run {
        for planned in run::plan(&graph, &cases, outputs).map_err(usage)? {
            for f in &planned.files {
                let path = args.output.join(f);
                let note = if path.exists() { "  (exists)" } else { "" };
                out!("{}{note}", path.display());
            }
        }
        return Ok(0);
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let opts = RunOptions {
        output_dir: args.output.clone(),
        threads,
        max_cases_in_memory: args.max_cases_in_memory.unwrap_or(threads),
        seed: args.seed,
        outputs: Some(outputs),
        resume: args.resume || args.only_failed,
        overwrite: args.overwrite,
        progress: !quiet && std::io::stderr().is_terminal(),
        log_every: (!quiet && !std::io::stderr().is_terminal())
            .then(|| std::time::Duration::from_secs_f64(args.log_every)),
        shard: selection.shard.as_ref().map(|(s, _)| *s),
        dataset_cases: Some(selection.all.iter().map(|c| c.id.clone()).collect()),
    };
    // With --report, each case's pictures are drawn as it finishes, by a thread beside the
    // run's workers, so only the page is left to write at the end.
    let pictures = match &args.report {
        Some(path) => Some(report::ReportPictures::new(&graph, path, &args.output)?),
        None => None,
    };
    let (result, drawn) = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel::<(String, Vec<manifest::ManifestLine>)>();
        let drawer = pictures.as_ref().map(|pictures| {
            scope.spawn(move || {
                let mut drawn = BTreeMap::new();
                for (case, lines) in receiver {
                    let lines: Vec<&manifest::ManifestLine> = lines.iter().collect();
                    // A case that cannot be drawn now is drawn again with the page, where its
                    // error is reported.
                    if let Ok(entry) = pictures.case(&case, &lines) {
                        drawn.insert(case, entry);
                    }
                }
                drawn
            })
        });
        let result = {
            let case_done = |case: &str, lines: Vec<manifest::ManifestLine>| {
                if drawer.is_some() {
                    let _ = sender.send((case.to_owned(), lines));
                }
            };
            run::run_observed(&graph, &cases, &opts, &case_done)
        };
        drop(sender);
        let drawn = drawer.map(|d| d.join().unwrap_or_default()).unwrap_or_default();
        (result, drawn)
    });
    let summary = match result {
        Ok(s) => s,
        Err(e @ (RunError::OutputExists { .. } | RunError::Resume(_) | RunError::OtherRun { .. })) => {
            return Err(usage(e));
        }
        Err(e) => return Err(e).context("run"),
    };
    for failure in &summary.failures {
        eprintln!("failed: {failure}");
    }
    for problem in &summary.run_errors {
        eprintln!("error: {problem}");
    }
    if args.timings {
        eprintln!("time per node (total over all cases and outputs):");
        for (node, t) in &summary.timings {
            eprintln!("  {node:<32} {:>10.1} ms", t.as_secs_f64() * 1e3);
        }
    }
    // Previews and the report come after the run; when they fail (the disk that stopped the
    // run is still full) the summary is still printed.
    let extras = || -> Result<bool> {
        if !(args.previews || args.report.is_some() || args.datalist.is_some()) {
            return Ok(true);
        }
        let folder = ledger::read(&args.output)?;
        if let Some(path) = &args.datalist {
            let lines: Vec<manifest::ManifestLine> = folder.done.values().cloned().collect();
            datalist::write(path, &args.output, &lines)?;
            tracing::info!("datalist written to {}", path.display());
        }
        if args.previews {
            // This process's cases only: the other shards draw their own.
            let case_ids: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
            let lines: Vec<_> =
                folder.done.values().filter(|l| case_ids.contains(l.case.as_str())).cloned().collect();
            let n = report::write_previews(&graph, &args.output, &lines)?;
            tracing::info!("{n} previews written");
        }
        if let Some(path) = &args.report {
            // The whole folder's run so far (every shard): the last shard to end writes it whole.
            if !quiet {
                let left = folder.done.values().filter(|l| !drawn.contains_key(&l.case)).count();
                eprintln!("writing the report {} ({left} outputs left to draw)", path.display());
            }
            write_folder_report(&args.output, path, &folder, &drawn)?;
            tracing::info!("report written to {}", path.display());
        }
        Ok(true)
    };
    let extras_ok = extras().unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        false
    });
    eprintln!("{}", summary.line());
    Ok(u8::from(!(summary.complete() && extras_ok)))
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_argument_is_described_and_every_subcommand_has_two_examples() {
        let mut cli = Cli::command();
        cli.build();
        // `help` is clap's own.
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let after = sub.get_after_help().map(ToString::to_string).unwrap_or_default();
            let examples = after.lines().filter(|l| l.contains("graphrun ")).count();
            assert!(examples >= 2, "`graphrun {}` has {examples} examples in its help", sub.get_name());
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some() || arg.get_long_help().is_some(),
                    "`graphrun {}`: argument `{id}` has no description",
                    sub.get_name()
                );
            }
        }
    }
}

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
use voxflow_graph_runner::{Graph, RunError, RunOptions, dot, info, manifest, ops, report, run};

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
    Run(Box<RunArgs>),
    /// Validate a graph without reading any data.
    Validate { graph: PathBuf },
    /// List every registered op with its parameters (type, allowed values, default), or one op
    /// in full with `graphrun ops NAME`.
    Ops {
        /// Show only this op, with each parameter's description.
        name: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the graph file format.
    Schema,
    /// Show NIfTI files' header and intensity summary (like nib-ls).
    Info {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file, per line.
        #[arg(long)]
        json: bool,
    },
    /// Print a graph as Graphviz DOT.
    Dot {
        graph: PathBuf,
        /// Also render it to this SVG file with Graphviz's `dot` (which must be installed).
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Draw the middle sagittal, coronal and axial slices of a volume (world orientation,
    /// spacing respected, optional label overlay) to a PNG.
    Preview {
        file: PathBuf,
        /// A label map on the same grid, overlaid in colour.
        #[arg(long)]
        label: Option<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Re-run one output from its manifest line (`FILE:LINE`, a one-line file, or the JSON line).
    Replay {
        reference: String,
        #[arg(short, long)]
        output: PathBuf,
    },
}

// CLI flags are bools by nature.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args, Debug)]
struct RunArgs {
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
    /// K/N: run the cases whose sorted index is K mod N (also from SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX / VOXFLOW_SHARD_COUNT).
    #[arg(long)]
    shard: Option<String>,
    /// Skip outputs the manifest lists as complete.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
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
        Command::Preview { file, label, output } => {
            report::preview_file(file, label.as_deref(), output)?;
            if !cli.quiet {
                out!("{}", output.display());
            }
            Ok(0)
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

fn cases_for(args: &RunArgs, graph: &Graph) -> Result<Vec<Case>> {
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
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s)?),
        None => Shard::from_env(|k| std::env::var(k).ok())?,
    };
    Ok(match shard {
        Some(shard) => shard.select(cases),
        None => cases,
    })
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
    let cases = cases_for(args, &graph).map_err(usage)?;
    let outputs = args.outputs.unwrap_or(graph.file.outputs);
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
        resume: args.resume,
        overwrite: args.overwrite,
        progress: !quiet && std::io::stderr().is_terminal(),
    };
    let summary = match run::run(&graph, &cases, &opts) {
        Ok(s) => s,
        Err(e @ (RunError::OutputExists { .. } | RunError::Resume(_))) => return Err(usage(e)),
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
        if !(args.previews || args.report.is_some()) {
            return Ok(true);
        }
        let case_ids: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let lines: Vec<_> = manifest::read(&manifest::path_in(&args.output))?
            .into_iter()
            .filter(|l| case_ids.contains(l.case.as_str()))
            .collect();
        if args.previews {
            let n = report::write_previews(&graph, &args.output, &lines)?;
            tracing::info!("{n} previews written");
        }
        if let Some(path) = &args.report {
            report::write_report(&graph, path, &args.output, &lines, &summary.timings)?;
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

//! JSON graphs of voxflow ops, run over whole datasets; the library behind the `graphrun` CLI.
//!
//! * [`expand`]: the list form of a node (one draw for several volumes, several draws in a row),
//!   written out into plain nodes before the graph is built.
//! * [`graph`]: the graph file format ([`graph::GraphFile`]), parsed, then validated and built
//!   into a [`graph::Graph`] (ops, wiring, kinds, topological order) before any data is read.
//! * [`io`]: the `load` and `save` ops, the only nodes that touch files.
//! * [`datalist`]: `--datalist`, the outputs as a MONAI-style JSON datalist or a CSV.
//! * [`dataset`]: where cases come from (nnU-Net folders, globs, lists, single inputs), shards.
//! * [`run`]: runs a graph over cases, in parallel and bounded, writing outputs and the
//!   manifest ([`manifest`]), with resume and replay.
//! * [`ledger`]: `manifest.d/`, what each process writing into one output folder did (the
//!   shards of a job array), merged into `manifest.jsonl`; `graphrun status` and `merge`.
//! * [`paths`]: the output-folder policy (case ids, node names, rendered paths).
//! * [`info`], [`dot`], [`ops`]: the inspection subcommands; [`schema`]: the graph file's JSON
//!   Schema, with every op's parameters.
//! * [`report`]: previews next to outputs, the HTML run report, `graphrun preview`.
//! * [`error_render`]: error chains flattened once (`a: b: c`), "did you mean" for unknown names.

pub mod datalist;
pub mod dataset;
pub mod dot;
pub mod error_render;
pub mod expand;
pub mod graph;
pub mod info;
pub mod io;
pub mod ledger;
pub mod manifest;
pub mod nifti;
pub mod ops;
pub mod paths;
pub mod report;
pub mod run;
pub mod schema;

pub use dataset::Case;
pub use graph::{Graph, GraphError, GraphFile};
pub use run::{RunError, RunOptions, RunSummary};

/// Links every op crate into the binary (typetag registers ops at link time; a crate nobody
/// references is silently missing). The one explicit plugin list.
pub fn register_all() {
    voxflow_geometry::register();
    voxflow_intensity::register();
    voxflow_elastic::register();
    voxflow_labels::register();
    voxflow_io_nifti::register();
}

/// The version written into manifests.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

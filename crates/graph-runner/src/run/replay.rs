//! Replaying one manifest line.

use super::{CaseRunner, Failure, NodeFailure, OutputRecord, RunError, plan};
use crate::dataset::Case;
use crate::error_render::error_chain;
use crate::graph::Graph;
use crate::manifest::ManifestLine;
use std::path::Path;

/// Re-runs the one output a manifest line describes, into `output_dir` (files are replaced),
/// and checks that the draws are those the line recorded.
pub fn replay(line: &ManifestLine, output_dir: &Path) -> Result<OutputRecord, RunError> {
    let graph_path = line
        .graph
        .as_ref()
        .ok_or_else(|| RunError::Replay("the manifest line names no graph file".into()))?;
    let graph = Graph::from_path(graph_path).map_err(|e| RunError::Replay(error_chain(&e)))?;
    if graph.hash != line.graph_hash {
        return Err(RunError::Replay(format!(
            "{} has changed since the run, or runs differently in this voxflow (hash {} now, {} then, \
             written by voxflow {}; this is {})",
            graph_path.display(),
            graph.hash,
            line.graph_hash,
            line.voxflow_version,
            crate::VERSION
        )));
    }
    std::fs::create_dir_all(output_dir).map_err(|source| RunError::Io { path: output_dir.into(), source })?;
    crate::dataset::check_case_id(&line.case, || "the manifest line".to_owned())
        .map_err(|e| RunError::Replay(e.to_string()))?;
    let case = Case { id: line.case.clone(), inputs: line.inputs.clone() };
    // The same checks as a run: every file this output writes stays under `output_dir`.
    plan(&graph, std::slice::from_ref(&case), line.output.saturating_add(1))
        .map_err(|e| RunError::Replay(e.to_string()))?;
    let fail = |f: NodeFailure| {
        RunError::Replay(
            Failure { case: case.id.clone(), output: Some(line.output), node: f.node, message: f.message }
                .to_string(),
        )
    };
    let mut runner = CaseRunner::load(&graph, &case, line.seed, output_dir).map_err(fail)?;
    let record = runner.run_output(line.output).map_err(fail)?;
    let same = record.draws.len() == line.draws.len()
        && record.draws.iter().zip(&line.draws).all(|((na, a), (nb, b))| na == nb && json_close(a, b));
    if !same {
        return Err(RunError::Replay(format!(
            "the draws differ from the manifest's: {} now, {} then",
            serde_json::to_string(&record.draws).unwrap_or_default(),
            serde_json::to_string(&line.draws).unwrap_or_default()
        )));
    }
    Ok(record)
}

/// Equal JSON, numbers within 1e-12 relative (a manifest's text does not round-trip floats to
/// the last bit).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

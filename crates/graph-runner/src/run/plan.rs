//! The output-folder plan: every (case, output) with the files it writes, checked first.

use super::RunError;
use crate::dataset::Case;
use crate::graph::Graph;

/// One output's files, relative to the output directory.
#[derive(Debug, Clone)]
pub struct PlannedOutput {
    pub case: usize,
    pub output: u64,
    pub files: Vec<String>,
}

/// At most this many (case, output) pairs in one run: the plan is held in memory (about 100
/// bytes each plus the paths), and a run of ten million outputs is a mistake, not a dataset.
pub const MAX_PLANNED_OUTPUTS: u64 = 10_000_000;

/// Every (case, output) of a run with the files it writes, checked before any work: the count
/// is bounded ([`MAX_PLANNED_OUTPUTS`]), every path stays under the output folder
/// ([`crate::paths::relative_output_path`]), and no two outputs write the same file.
pub fn plan(graph: &Graph, cases: &[Case], outputs: u64) -> Result<Vec<PlannedOutput>, RunError> {
    let total = (cases.len() as u64).saturating_mul(outputs);
    if total > MAX_PLANNED_OUTPUTS {
        return Err(RunError::Plan(format!(
            "{} cases x {outputs} outputs = {total} outputs; at most {MAX_PLANNED_OUTPUTS} per run \
             (split the run with --shard or lower `outputs`)",
            cases.len()
        )));
    }
    let mut plan = Vec::with_capacity(total as usize);
    let mut writer_of: std::collections::HashMap<String, (usize, u64, &str)> =
        std::collections::HashMap::new();
    let saves: Vec<&str> = graph.saves().map(|(node, _)| node.name.as_str()).collect();
    for (ci, case) in cases.iter().enumerate() {
        crate::dataset::check_case_id(&case.id, || "the case list".to_owned())
            .map_err(|e| RunError::Plan(e.to_string()))?;
        for output in 0..outputs {
            let files = graph.planned_files(&case.id, output);
            for (file, node) in files.iter().zip(&saves) {
                crate::paths::relative_output_path(file).map_err(|reason| {
                    RunError::Plan(format!(
                        "node `{node}` would write `{file}` for case `{}`, output {output}: {reason}",
                        case.id
                    ))
                })?;
                if let Some((other_case, other_output, other_node)) =
                    writer_of.insert(file.clone(), (ci, output, node))
                {
                    return Err(RunError::Plan(format!(
                        "two outputs write `{file}`: node `{other_node}` for case `{}`, output {other_output}, \
                         and node `{node}` for case `{}`, output {output}; put {{case}}, {{output}} or \
                         {{node}} in the save paths so each output has its own file",
                        cases[other_case].id, case.id
                    )));
                }
            }
            plan.push(PlannedOutput { case: ci, output, files });
        }
    }
    Ok(plan)
}

//! voxflow-graph-runner

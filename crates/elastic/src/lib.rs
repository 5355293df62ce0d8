//! voxflow-elastic

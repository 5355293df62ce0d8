//! voxflow-geometry

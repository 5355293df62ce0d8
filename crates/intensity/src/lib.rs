//! voxflow-intensity

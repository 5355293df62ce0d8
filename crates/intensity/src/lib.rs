//! voxflow-intensity

/// Links this crate's ops into a binary (typetag registers them at link time).
pub fn register() {}

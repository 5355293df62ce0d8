//! voxflow-io-nifti

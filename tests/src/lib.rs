//! Cross-crate tests live in tests/tests/; this library holds what they share with the
//! examples: the synthetic multi-modal dataset ([`multimodal`]).

pub mod multimodal;

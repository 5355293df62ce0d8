//! Any bytes that are UTF-8, parsed and validated as a graph file (`Graph::from_json`: JSON
//! shape, names, ops, parameters, wiring, cycles, kinds): `Ok` or `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxflow_graph_runner::{Graph, register_all};

fuzz_target!(
    init: {
        // Links every op crate, so the ops the graphs name are registered.
        register_all();
    },
    |data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = Graph::from_json(text);
        }
    }
);

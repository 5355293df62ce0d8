//! Benchmarks of the io area (see `super::Row`).

use super::Row;

pub fn rows() -> anyhow::Result<Vec<Row>> {
    Ok(Vec::new())
}

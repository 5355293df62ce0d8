//! Benchmarks of the geometry area (see `super::Row`).

use super::Row;

#[allow(clippy::unnecessary_wraps)] // until this area has rows
pub fn rows() -> anyhow::Result<Vec<Row>> {
    Ok(Vec::new())
}

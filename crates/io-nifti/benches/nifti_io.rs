//! Reading and writing a 256^3 f32 volume as `.nii` and `.nii.gz` (level 1).
//!
//! `cargo bench -p voxflow-io-nifti`. The volume is a smooth head-like phantom (the same
//! formula as `xtask/src/bench/io.rs` and `xtask/python/io.py`), not noise, because how well
//! it compresses decides the gzip timings.

use ndarray::Array3;
use std::path::PathBuf;
use std::sync::LazyLock;
use voxflow_core::{Affine, Kind, Volume};
use voxflow_io_nifti::{WriteOptions, read, write};

fn main() {
    // Build the phantom and its files before any timing starts.
    LazyLock::force(&FIXTURE);
    divan::main();
}

const N: usize = 256;

fn phantom() -> Volume {
    let c = (N as f64 - 1.0) / 2.0;
    let h = N as f64 / 2.0;
    let data = Array3::from_shape_fn((N, N, N), |(i, j, k)| {
        let (x, y, z) = ((i as f64 - c) / h, (j as f64 - c) / h, (k as f64 - c) / h);
        let r = ((x / 0.8).powi(2) + (y / 0.95).powi(2) + (z / 0.9).powi(2)).sqrt();
        if r > 1.05 {
            return 0.0;
        }
        let head = 1.0 / (1.0 + ((r - 1.0) * 40.0).exp());
        let brain = 1.0 / (1.0 + ((r - 0.85) * 40.0).exp());
        let texture = 1.0 + 0.1 * (8.0 * x).sin() * (6.0 * y).cos() * (5.0 * z).sin();
        (300.0 * head + 500.0 * brain * texture) as f32
    });
    Volume::image3(data, Affine::identity())
}

struct Fixture {
    volume: Volume,
    _dir: tempfile::TempDir,
    nii: PathBuf,
    gz: PathBuf,
    /// The same .nii as one plain gzip member (as nibabel or `gzip` write it): streamed.
    gz_single: PathBuf,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let volume = phantom();
    let dir = tempfile::tempdir().expect("tempdir");
    let nii = dir.path().join("phantom.nii");
    let gz = dir.path().join("phantom.nii.gz");
    write(&nii, &volume, &WriteOptions::default()).expect("write .nii");
    write(&gz, &volume, &WriteOptions::default()).expect("write .nii.gz");
    let gz_single = dir.path().join("single.nii.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    std::io::Write::write_all(&mut enc, &std::fs::read(&nii).expect("read .nii")).expect("compress");
    std::fs::write(&gz_single, enc.finish().expect("compress")).expect("write single-member .nii.gz");
    Fixture { volume, _dir: dir, nii, gz, gz_single }
});

#[divan::bench(sample_count = 10)]
fn read_nii() -> Volume {
    read(&FIXTURE.nii, Kind::Image).expect("reads")
}

#[divan::bench(sample_count = 10)]
fn read_nii_gz() -> Volume {
    read(&FIXTURE.gz, Kind::Image).expect("reads")
}

#[divan::bench(sample_count = 10)]
fn read_nii_gz_single_member() -> Volume {
    read(&FIXTURE.gz_single, Kind::Image).expect("reads")
}

#[divan::bench(sample_count = 10)]
fn write_nii() {
    let path = FIXTURE.nii.with_file_name("out.nii");
    write(&path, &FIXTURE.volume, &WriteOptions::default()).expect("writes");
}

#[divan::bench(sample_count = 10)]
fn write_nii_gz_level1() {
    let path = FIXTURE.gz.with_file_name("out.nii.gz");
    write(&path, &FIXTURE.volume, &WriteOptions::default()).expect("writes");
}

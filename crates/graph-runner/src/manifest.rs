//! `OUTDIR/manifest.jsonl`: one JSON line per (case, output), written after all of that
//! output's files exist, so a line means "complete". At the end of a run the file is rewritten
//! sorted by (case, output), so it does not depend on the order cases finished in.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One completed output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManifestLine {
    pub case: String,
    pub output: u64,
    /// The graph seed the draws derive from.
    pub seed: u64,
    /// Every draw of this output: node name to the drawn op, as JSON (`{"op":..,"params":..}`).
    pub draws: BTreeMap<String, serde_json::Value>,
    /// Files written, relative to the output directory, `/`-separated.
    pub files: Vec<String>,
    /// The same files by the `save` node that wrote them (`{"save_image": ..., "save_label":
    /// ...}`), so a training script need not guess which is which. Empty in manifests of
    /// voxflow before 0.2.0.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub saved: BTreeMap<String, String>,
    /// Each file's size and CRC-32 when it was written (same order as `files`), so `--resume`
    /// redoes an output whose file is missing, truncated or changed. Empty in manifests of
    /// voxflow before 0.1.1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_checks: Vec<FileCheck>,
    /// The case's inputs.
    pub inputs: BTreeMap<String, PathBuf>,
    /// The graph file (absolute), for `graphrun replay`.
    pub graph: Option<PathBuf>,
    /// Hash of the graph as it runs, defaults resolved (see [`crate::graph::hash_graph`]).
    pub graph_hash: String,
    pub voxflow_version: String,
}

/// What a file was when its output completed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    pub bytes: u64,
    /// CRC-32 (IEEE) of the file's bytes, 8 hex digits.
    #[serde(with = "crc_hex")]
    pub crc32: u32,
}

mod crc_hex {
    // serde's `with` calls this with a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn serialize<S: serde::Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:08x}"))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        u32::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

impl FileCheck {
    /// Size and CRC-32 of a file as it is now.
    pub fn of(path: &Path) -> std::io::Result<FileCheck> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        Ok(FileCheck { bytes, crc32: hasher.finalize() })
    }
}

impl ManifestLine {
    /// Whether every file of this output is under `output_dir` as it was written (size and
    /// CRC-32; for lines without checks, present and not empty).
    #[must_use]
    pub fn files_intact(&self, output_dir: &Path) -> bool {
        if self.file_checks.is_empty() {
            return self
                .files
                .iter()
                .all(|f| std::fs::metadata(output_dir.join(f)).is_ok_and(|m| m.is_file() && m.len() > 0));
        }
        self.files.len() == self.file_checks.len()
            && self.files.iter().zip(&self.file_checks).all(|(f, check)| {
                let path = output_dir.join(f);
                // The size first: a truncated file is found without reading it.
                std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == check.bytes)
                    && FileCheck::of(&path).is_ok_and(|now| now == *check)
            })
    }
}

/// Errors reading or writing a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("manifest {path}, line {line}")]
    Json { path: PathBuf, line: usize, source: serde_json::Error },
    #[error("{0}")]
    Reference(String),
}

/// The manifest's path in an output directory.
#[must_use]
pub fn path_in(output_dir: &Path) -> PathBuf {
    output_dir.join("manifest.jsonl")
}

/// Reads a manifest. A last line that does not parse (a run killed while writing it) is
/// ignored; a bad line elsewhere is an error.
pub fn read(path: &Path) -> Result<Vec<ManifestLine>, ManifestError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ManifestError::Io { path: path.into(), source }),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(l) => out.push(l),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(source) => return Err(ManifestError::Json { path: path.into(), line: i + 1, source }),
        }
    }
    Ok(out)
}

/// One line as text (no newline).
#[must_use]
pub fn to_line(line: &ManifestLine) -> String {
    serde_json::to_string(line).unwrap_or_default()
}

/// Appends a line and flushes it.
pub fn append(file: &mut std::fs::File, path: &Path, line: &ManifestLine) -> Result<(), ManifestError> {
    let mut text = to_line(line);
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|source| ManifestError::Io { path: path.into(), source })
}

/// Rewrites the manifest sorted by (case, output), one line per output (the last wins),
/// atomically.
pub fn rewrite_sorted(path: &Path) -> Result<(), ManifestError> {
    let mut by_key = BTreeMap::new();
    for line in read(path)? {
        by_key.insert((line.case.clone(), line.output), line);
    }
    let mut text = String::new();
    for line in by_key.values() {
        text.push_str(&to_line(line));
        text.push('\n');
    }
    // A name of this process's own, and removed on any failure: the old manifest stays as it
    // was (complete, only unsorted) and no temporary file is left behind.
    let tmp = path.with_extension(format!("jsonl.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => voxflow_io_nifti::write::sync_dir(dir),
            _ => Ok(()),
        }
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|source| ManifestError::Io { path: path.into(), source })
}

/// Resolves a replay reference: a JSON line itself, `FILE:LINE` (1-based), or a manifest file
/// with exactly one line.
pub fn resolve(reference: &str) -> Result<ManifestLine, ManifestError> {
    let trimmed = reference.trim();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|source| ManifestError::Json {
            path: PathBuf::from("<argument>"),
            line: 1,
            source,
        });
    }
    let (file, number) = match trimmed.rsplit_once(':') {
        Some((f, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
            (PathBuf::from(f), n.parse::<usize>().ok())
        }
        _ => (PathBuf::from(trimmed), None),
    };
    let lines = read(&file)?;
    match number {
        Some(n) => lines
            .into_iter()
            .nth(n.wrapping_sub(1))
            .ok_or_else(|| ManifestError::Reference(format!("{} has no line {n}", file.display()))),
        None if lines.len() == 1 => Ok(lines.into_iter().next().expect("one line")),
        None => Err(ManifestError::Reference(format!(
            "{} has {} lines: name one as FILE:LINE",
            file.display(),
            lines.len()
        ))),
    }
}
